"""Running a job: fit and test, checkpoints, resume, status and interruption, and the checks before a start."""
