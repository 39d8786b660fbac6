"""Triton-side vision code: pure numpy/OpenCV operations (`ensembles.ops`) shared by the
python-backend models in `ensembles/repository/` and by the in-process baseline benchmark."""
