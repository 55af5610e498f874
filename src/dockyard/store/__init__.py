"""The platform database: models, migrations and the repositories that read and write them."""
