import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { familiarString, formatReference, parseReference, withDefaultTag } from '../../src/oci/index.js';
import { InvalidArgument } from '../../src/errors/index.js';

const full = (s: string) => formatReference(withDefaultTag(parseReference(s)));

describe('image references (normalised like docker)', () => {
  it('adds docker.io, library/ and :latest', () => {
    assert.equal(full('busybox'), 'docker.io/library/busybox:latest');
    assert.equal(full('user/app:1.0'), 'docker.io/user/app:1.0');
    assert.equal(full('docker.io/busybox'), 'docker.io/library/busybox:latest');
    assert.equal(full('index.docker.io/library/busybox:1'), 'docker.io/library/busybox:1');
  });
  it('recognises registries by a dot, a port or localhost', () => {
    assert.equal(full('localhost:5000/app'), 'localhost:5000/app:latest');
    assert.equal(full('localhost/app:v2'), 'localhost/app:v2');
    assert.equal(full('quay.io/org/app'), 'quay.io/org/app:latest');
    assert.equal(full('127.0.0.1:5000/a/b/c:t'), '127.0.0.1:5000/a/b/c:t');
  });
  it('keeps digests and does not add a tag to them', () => {
    const d = 'sha256:' + 'a'.repeat(64);
    assert.equal(full(`busybox@${d}`), `docker.io/library/busybox@${d}`);
    assert.equal(full(`busybox:1@${d}`), `docker.io/library/busybox:1@${d}`);
  });
  it('prints the familiar form', () => {
    assert.equal(familiarString(withDefaultTag(parseReference('docker.io/library/busybox'))), 'busybox:latest');
    assert.equal(familiarString(parseReference('docker.io/user/app:1')), 'user/app:1');
    assert.equal(familiarString(parseReference('localhost:5000/app:1')), 'localhost:5000/app:1');
  });
  for (const bad of ['', 'UPPER', 'busybox:', 'a:b:c', 'bad tag', ':tag', 'busy//box', '-lead', 'a@sha256:abc', 'a'.repeat(64), 'busybox:' + 't'.repeat(129)]) {
    it(`rejects ${JSON.stringify(bad.length > 40 ? bad.slice(0, 20) + '…' : bad)}`, () => {
      assert.throws(() => parseReference(bad), InvalidArgument);
    });
  }
  it('says why an uppercase name is invalid', () => {
    assert.throws(() => parseReference('Busybox'), /repository name \(library\/Busybox\) must be lowercase/);
  });
});
