// exportTo as Istio reads it: empty or `*` = every namespace, `.` = the owner's namespace,
// `~` = none, otherwise namespace names.

export function isVisible(exportTo: readonly string[], owner: string, viewer: string): boolean {
  if (exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '~') return false;
    if (e === '.' ? owner === viewer : e === viewer) return true;
  }
  return false;
}

/** Is `selector` (matchLabels) a subset of `labels`? An absent selector selects everything. */
export function selectorMatches(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return true;
  for (const k of Object.keys(selector)) if (labels[k] !== selector[k]) return false;
  return true;
}
