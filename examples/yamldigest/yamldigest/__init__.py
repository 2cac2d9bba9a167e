"""yamldigest: a small real CLI with a compiled dependency, built by xbuild's examples."""
