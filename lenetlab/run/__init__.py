"""Running a job: fit and test, resume, status and interruption, precision, and the checks before a start."""
