"""Files: atomic writes, reading and writing images, finding inputs and planning their outputs, paired
folders, labelled panels."""
