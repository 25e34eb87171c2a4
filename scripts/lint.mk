# Make target for linting the shell scripts; included by the root Makefile.

.PHONY: lint-shell

lint-shell: ## shellcheck on every shell script git tracks (*.sh and files with a shell shebang)
	bash scripts/lint-shell.sh
