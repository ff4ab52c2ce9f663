"""The ID-token mode of the test IdP (one process, set through POST /test/mode)."""

MODE = {"value": "normal"}
