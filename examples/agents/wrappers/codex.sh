#!/usr/bin/env bash
# Codex CLI as a Miyabi Orchestra agent (docs/AGENT_PROTOCOL.md, "Codex CLI").
#
#   agents:
#     codegen:
#       command: ["{packageRoot}/examples/agents/wrappers/codex.sh"]
#       env: [OPENAI_API_KEY]
#
# The prompt goes in on stdin ("-" as the prompt argument): no size limit, never parsed as
# options or by a shell. The sandbox may write the worktree, the task directory (for the result
# file) and the repository's git directory (a worktree's commits are written there).
set -euo pipefail
: "${MIYABI_PROMPT_FILE:?run me through miyabi-orchestra}"

git_dir=$(git rev-parse --path-format=absolute --git-common-dir)
exec codex exec \
  --sandbox workspace-write \
  --add-dir "$MIYABI_TASK_DIR" \
  --add-dir "$git_dir" \
  --output-last-message "$MIYABI_TASK_DIR/codex-last-message.md" \
  - < "$MIYABI_PROMPT_FILE"
