/**
 * What route matchers read from a request. The data plane's stream and `sluice trace` both
 * implement it, so trace runs the very matchers the proxy runs.
 */
export interface RequestView {
  readonly method: string;
  readonly scheme: string;
  /** Host / :authority as received (port included if sent). */
  readonly authority: string;
  /** Path without the query string. */
  readonly pathOnly: string;
  /** Value of a header by lower-case name; repeated headers joined with ",". */
  header(lowerName: string): string | undefined;
  /** Value of a query parameter (first occurrence), URL-decoded; undefined when absent. */
  queryParam(name: string): string | undefined;
}
