/** What an HTTP handler reports for the request log. */
export interface HttpOutcome {
  /** Body bytes sent or stored. */
  bytes: number;
  /** A word for the log: '206 from 4096', '304', 'stored 3 files'. */
  note?: string;
}
