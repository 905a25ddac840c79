"""Studies: sweeps over training settings as Optuna studies, each trial an ordinary run folder.

- :mod:`core.studies.plan`     factors, designs, budget, objective, pruner; checks; TOML study files
- :mod:`core.studies.designs`  one factor at a time, grid, random and TPE; samplers and pruners
- :mod:`core.studies.storage`  the study folder, Optuna storages (journal file, database URL, gRPC proxy), heartbeats
- :mod:`core.studies.worker`   a worker: claims queued trials and trains them (``python -m core.studies.worker``)
- :mod:`core.studies.runner`   run a study in this process or in worker processes; join one from elsewhere
- :mod:`core.studies.table`    the trials table and the seeds' one-factor-at-a-time table (text, CSV, Markdown)

Importing this package imports neither TensorFlow nor Optuna.
"""

from core.studies.plan import DESIGNS, OBJECTIVES, PRUNERS, Factor, StudyError, StudyPlan, load_plan_file, parse_vary

__all__ = ["DESIGNS", "OBJECTIVES", "PRUNERS", "Factor", "StudyError", "StudyPlan", "load_plan_file", "parse_vary"]
