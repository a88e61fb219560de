"""SiMPL's kitchen domain: FrankaKitchen-v1 with ordered 4-subtask sequences."""
