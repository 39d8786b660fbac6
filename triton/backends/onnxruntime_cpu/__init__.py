"""Not imported: marks the folder so that mypy can tell the backends' model.py files apart
(Triton loads model.py by path; triton/cpu_server.py copies only that file)."""
