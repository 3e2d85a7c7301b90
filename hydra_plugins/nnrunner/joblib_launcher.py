"""``hydra/launcher=joblib`` with the pool's console: one progress line for the sweep, each
job's own lines in its folder's job.log (hydra-joblib-launcher's keys, unchanged).

Defined only when hydra-joblib-launcher is installed; without it this module defines nothing,
since Hydra's plugin scan imports it anyway."""

try:
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
except ImportError:
    JoblibLauncher = None

if JoblibLauncher is not None:

    class QuietJoblibLauncher(JoblibLauncher):
        """Hydra's joblib launcher; its jobs print to their job.log, the sweep to the console."""

        def launch(self, job_overrides, initial_job_idx):
            from runner.sweeps.joblib_launch import launch

            return launch(self, job_overrides, initial_job_idx)
