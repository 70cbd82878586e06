"""Livestreams: providers behind one small interface, and the jobs that provision and poll them."""
