//! Configuration: YAML files (`director.yaml`, `hostgroups/*.yaml`, `services/*.yaml`) turned
//! into validated domain types, every error with file, line and column.
