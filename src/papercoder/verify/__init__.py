"""The verify stage: check the repository against the paper's requirements and refine what fails."""
