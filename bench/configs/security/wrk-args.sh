#!/usr/bin/env bash
# Extra wrk arguments for the security variant: the bench token (see security.yaml).
echo "-H 'Authorization: Bearer $(tr -d '\n' <"$(dirname "$0")/token.txt")'"
