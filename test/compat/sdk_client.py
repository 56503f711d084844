"""The Docker SDK for Python against berthd: one scenario per run (`sdk_client.py <docker host> <scenario>`).

Driven by test/compat/sdk.test.ts. Each scenario asserts what the SDK gives back and removes what it made; a
failed assertion exits non-zero with its message on stderr.
"""
import io
import sys
import tarfile
import time

import docker

IMAGE = 'busybox'


def lifecycle(client):
    assert client.ping() is True
    assert client.version()['Os'] == 'linux'
    assert client.containers.run(IMAGE, ['sh', '-c', 'echo out; echo err >&2'], remove=True) == b'out\n'
    assert client.containers.run(IMAGE, ['sh', '-c', 'echo out; echo err >&2'], remove=True, stdout=False, stderr=True) == b'err\n'
    c = client.containers.run(IMAGE, ['sleep', '300'], detach=True, name='sdk-life', labels={'team': 'sdk'}, environment={'A': 'b'})
    try:
        c.reload()
        assert c.status == 'running', c.status
        assert c.labels == {'team': 'sdk'}, c.labels
        assert 'A=b' in c.attrs['Config']['Env']
        assert c.image.tags == ['busybox:latest'], c.image.tags
        assert [x.name for x in client.containers.list(filters={'label': 'team=sdk'})] == ['sdk-life']
        c.pause()
        c.reload()
        assert c.status == 'paused', c.status
        c.unpause()
        c.rename('sdk-renamed')
        c.reload()
        assert c.name == 'sdk-renamed', c.name
        c.kill()
        assert c.wait() == {'StatusCode': 137, 'Error': None}
    finally:
        c.remove(force=True)
    c = client.containers.create(IMAGE, ['sh', '-c', 'exit 3'])
    c.start()
    assert c.wait(condition='not-running')['StatusCode'] == 3
    pruned = client.containers.prune()
    assert c.id in pruned['ContainersDeleted'], pruned


def exec_(client):
    c = client.containers.run(IMAGE, ['sleep', '300'], detach=True)
    try:
        r = c.exec_run(['sh', '-c', 'echo out; echo err >&2; exit 3'], demux=True)
        assert (r.exit_code, r.output) == (3, (b'out\n', b'err\n')), r
        r = c.exec_run('sh -c "id -un; pwd; echo $X"', environment={'X': 'y'}, user='nobody', workdir='/tmp')
        assert (r.exit_code, r.output) == (0, b'nobody\n/tmp\ny\n'), r
    finally:
        c.remove(force=True)


def archive(client):
    c = client.containers.run(IMAGE, ['sleep', '300'], detach=True)
    try:
        data = b'content\n'
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode='w') as t:
            info = tarfile.TarInfo('f.txt')
            info.size = len(data)
            info.mode = 0o640
            t.addfile(info, io.BytesIO(data))
        assert c.put_archive('/tmp', buf.getvalue()) is True
        bits, stat = c.get_archive('/tmp/f.txt')
        assert (stat['name'], stat['size'], stat['mode'] & 0o777) == ('f.txt', 8, 0o640), stat
        with tarfile.open(fileobj=io.BytesIO(b''.join(bits))) as t:
            member = t.getmembers()[0]
            assert (member.name, t.extractfile(member).read()) == ('f.txt', data)
        assert {'Path': '/tmp/f.txt', 'Kind': 1} in c.diff()
        image = c.commit(repository='sdk/commit', tag='v1', changes=['ENV C=d'])
        try:
            assert image.tags == ['sdk/commit:v1'], image.tags
            assert 'C=d' in image.attrs['Config']['Env']
            out = client.containers.run('sdk/commit:v1', ['cat', '/tmp/f.txt'], remove=True)
            assert out == data, out
        finally:
            client.images.remove('sdk/commit:v1')
        exported = b''.join(c.export())
        with tarfile.open(fileobj=io.BytesIO(exported)) as t:
            assert 'bin/busybox' in t.getnames()
    finally:
        c.remove(force=True)


def observe(client):
    c = client.containers.run(IMAGE, ['sleep', '300'], detach=True, mem_limit='64m')
    try:
        stats = c.stats(stream=False)
        assert stats['memory_stats']['limit'] == 64 << 20, stats['memory_stats']
        assert stats['pids_stats']['current'] == 1, stats['pids_stats']
        top = c.top()
        assert top['Titles'][-1] == 'CMD' and top['Processes'][0][-1] == 'sleep 300', top
        c.update(mem_limit='96m')
        c.reload()
        assert c.attrs['HostConfig']['Memory'] == 96 << 20
        assert c.stats(stream=False)['memory_stats']['limit'] == 96 << 20
    finally:
        c.remove(force=True)


def streams(client):
    c = client.containers.run(IMAGE, ['sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.1; done'], detach=True)
    try:
        assert list(c.logs(stream=True, follow=True)) == [b'1\n', b'2\n', b'3\n']
        lines = c.logs(timestamps=True).splitlines()
        assert [line.split(b' ', 1)[1] for line in lines] == [b'1', b'2', b'3'], lines
    finally:
        c.remove(force=True)
    c = client.containers.run(IMAGE, 'cat', detach=True, stdin_open=True)
    try:
        sock = c.attach_socket(params={'stdin': 1, 'stdout': 1, 'stream': 1})
        sock._sock.sendall(b'ping\n')
        got = b''
        deadline = time.time() + 5
        while len(got) < 13 and time.time() < deadline:
            got += sock._sock.recv(100)
        # One stdout frame, as Docker multiplexes a non-TTY stream: stream 1, size 5.
        assert got == b'\x01\x00\x00\x00\x00\x00\x00\x05ping\n', got
        sock.close()
    finally:
        c.remove(force=True)


def errors(client):
    try:
        client.containers.get('no-such-container')
        raise AssertionError('get of a missing container succeeded')
    except docker.errors.NotFound as e:
        assert e.status_code == 404 and 'No such container: no-such-container' in e.explanation, e
    c = client.containers.create(IMAGE, ['sleep', '300'], name='sdk-taken')
    try:
        try:
            client.containers.create(IMAGE, name='sdk-taken')
            raise AssertionError('a second container took a name in use')
        except docker.errors.APIError as e:
            assert e.status_code == 409, e
        try:
            c.exec_run('true')
            raise AssertionError('exec in a stopped container succeeded')
        except docker.errors.APIError as e:
            assert e.status_code == 409, e
    finally:
        c.remove(force=True)


def networks(client):
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet='10.216.0.0/24', gateway='10.216.0.1')])
    net = client.networks.create('sdk-net', driver='bridge', ipam=ipam, labels={'team': 'sdk'})
    c = None
    try:
        assert net.attrs['IPAM']['Config'] == [{'Subnet': '10.216.0.0/24', 'Gateway': '10.216.0.1'}], net.attrs['IPAM']
        assert [n.name for n in client.networks.list(filters={'label': 'team=sdk'})] == ['sdk-net']
        c = client.containers.run(IMAGE, ['httpd', '-f', '-p', '80', '-h', '/etc'], detach=True, name='sdk-web', ports={'80/tcp': ('127.0.0.1', None)})
        c.reload()
        bound = c.ports['80/tcp'][0]
        assert bound['HostIp'] == '127.0.0.1' and int(bound['HostPort']) > 0, c.ports
        net.connect(c, aliases=['web-alias'], ipv4_address='10.216.0.77')
        c.reload()
        assert c.attrs['NetworkSettings']['Networks']['sdk-net']['IPAddress'] == '10.216.0.77', c.attrs['NetworkSettings']
        net.reload()
        assert list(net.attrs['Containers']) == [c.id], net.attrs['Containers']
        out = client.containers.run(IMAGE, ['sh', '-c', 'nslookup web-alias | grep "Address: 10"'], network='sdk-net', remove=True)
        assert out == b'Address: 10.216.0.77\n', out
        net.disconnect(c)
        c.reload()
        assert list(c.attrs['NetworkSettings']['Networks']) == ['bridge'], c.attrs['NetworkSettings']['Networks']
        try:
            client.networks.get('no-such-net')
            raise AssertionError('get of a missing network succeeded')
        except docker.errors.NotFound as e:
            assert e.status_code == 404, e
    finally:
        if c is not None:
            c.remove(force=True)
        net.remove()
    assert client.networks.list(names=['sdk-net']) == []


SCENARIOS = {'networks': networks, 'lifecycle': lifecycle, 'exec': exec_, 'archive': archive, 'observe': observe, 'streams': streams, 'errors': errors}

if __name__ == '__main__':
    SCENARIOS[sys.argv[2]](docker.DockerClient(base_url=sys.argv[1], version='auto'))
    print('ok')
