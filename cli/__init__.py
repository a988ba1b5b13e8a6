"""The `biocl` command line (installed as the package ``biocl_cli``): thin, no science."""
