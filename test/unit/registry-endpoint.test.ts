// Where pulls go: docker.io's mirrors before docker.io, with their scheme and certificate checks; dockerd's checks
// and normalisation of a mirror; and `info`'s RegistryConfig made from the daemon's settings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pullEndpoints, registryServiceConfig, resolveEndpoint, validateMirror } from '../../src/registry/client/index.js';

describe('registry endpoints', () => {
  it('docker.io pulls go to its mirrors in order, then to registry-1.docker.io; other registries have no mirrors', () => {
    const mirrors = ['https://mirror.example/', 'http://10.0.0.5:5000/', 'https://10.1.2.3/'];
    assert.deepEqual(pullEndpoints('docker.io', ['10.1.0.0/16'], mirrors), [
      { name: 'docker.io', host: 'mirror.example', insecure: false, scheme: 'https' },
      { name: 'docker.io', host: '10.0.0.5:5000', insecure: false, scheme: 'http' },
      // an https mirror on an insecure-registries host: TLS without certificate checks, as dockerd's
      { name: 'docker.io', host: '10.1.2.3', insecure: true, scheme: 'https' },
      { name: 'docker.io', host: 'registry-1.docker.io', insecure: false },
    ]);
    assert.deepEqual(pullEndpoints('quay.io', [], mirrors), [resolveEndpoint('quay.io')]);
    assert.deepEqual(pullEndpoints('127.0.0.1:5000', [], mirrors), [{ name: '127.0.0.1:5000', host: '127.0.0.1:5000', insecure: true }]);
  });

  it("checks a mirror as dockerd does, with its words, and ends it with one '/'", () => {
    assert.equal(validateMirror('https://mirror.example'), 'https://mirror.example/');
    assert.equal(validateMirror('http://127.0.0.1:5000/'), 'http://127.0.0.1:5000/');
    for (const [bad, message] of [
      ['mirror.example', 'invalid mirror: "mirror.example" is not a valid URI'],
      ['ftp://mirror.example', 'invalid mirror: unsupported scheme "ftp" in "ftp://mirror.example"'],
      ['https://mirror.example/v2/', 'invalid mirror: path, query, or fragment at end of the URI "https://mirror.example/v2/"'],
      ['https://mirror.example/?a=b', 'invalid mirror: path, query, or fragment at end of the URI "https://mirror.example/?a=b"'],
      ['https://bob:secret@mirror.example', 'invalid mirror: username/password not allowed in URI "https://bob:xxxxx@mirror.example/"'],
    ]) {
      assert.throws(() => validateMirror(bad as string), { message }, bad);
    }
  });

  it("info's RegistryConfig: loopback and CIDRs as insecure ranges, hosts as insecure indexes, docker.io with its mirrors", () => {
    assert.deepEqual(registryServiceConfig(['10.0.0.0/8', 'http://reg.local:5000/', '127.0.0.0/8'], ['https://mirror.example/']), {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ['127.0.0.0/8', '10.0.0.0/8'],
      IndexConfigs: {
        'docker.io': { Name: 'docker.io', Mirrors: ['https://mirror.example/'], Secure: true, Official: true },
        'reg.local:5000': { Name: 'reg.local:5000', Mirrors: [], Secure: false, Official: false },
      },
      Mirrors: ['https://mirror.example/'],
    });
  });
});
