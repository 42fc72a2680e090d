"""Files: atomic writes, reading and writing images, finding inputs, labelled panels."""
