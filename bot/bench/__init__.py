"""The pipeline benchmark behind `socialbot bench` (ships with the package)."""
