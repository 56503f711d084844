/** Docker-compatible output formatting for the berth CLI: Go templates, tables, units. */
export * from './formatter.js';
export * from './template.js';
export * from './units.js';
export { TabWriter, stringWidth, tabulate } from './tabwriter.js';
export { GoFloat, formatFloat, goJSON, marshalJSON, goType, sprint, sprintf, sprintln } from './gofmt.js';
