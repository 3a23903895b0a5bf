// Package hostile is mmq's hostile-client regression suite.
package hostile
