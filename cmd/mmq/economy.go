package main

import "github.com/mmq/mmq/tasks"

// SupportsEconomy refuses economy mode until the provider batch APIs are
// wired into this program.
func (m apiModels) SupportsEconomy(name string) error {
	return tasks.Errorf(tasks.CodeModeUnsupported, "economy mode is not available on this server yet")
}
