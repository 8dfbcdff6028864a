"""The strategies: the API they are written against (`api`), the plugin protocol that puts one
into the run (`plugin`), the registry of their names (`registry`), and one package per strategy."""
