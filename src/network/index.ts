// Container networking on the host: bridges, namespaces and veths (bridge.ts), addresses (ipam.ts), published
// ports (ports.ts, firewall.ts) and name resolution (dns.ts). No policy about containers or API shapes: that is
// services/networks.
export * from './bridge.js';
export * from './dns.js';
export * from './firewall.js';
export * from './ipam.js';
export * from './ports.js';
