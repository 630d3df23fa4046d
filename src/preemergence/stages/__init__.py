"""One module per dvc.yaml stage, named after it; stages never import stages."""
