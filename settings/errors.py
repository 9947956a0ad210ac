"""The one error type for bad settings: it names the config key and says how to fix it."""

PROJECT = "ngx-monitoring"


class SettingsError(ValueError):
    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{PROJECT}:{key}: {problem}")
