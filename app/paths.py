"""Where the project's non-Python files live (the package is installed editable, beside them)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
