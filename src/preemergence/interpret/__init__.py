"""The paper's interpretation: probes, bipoles, occlusion, composites, figures, findings."""
