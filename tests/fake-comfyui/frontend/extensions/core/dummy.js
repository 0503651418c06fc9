// core extension shim (bundled in the real frontend)
