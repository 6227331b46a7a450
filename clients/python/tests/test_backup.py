"""apikeysd backup / restore (issue 11) over the real binary: a backup taken under write
load holds every write acknowledged before it started; restore puts it into a new data
directory a server then starts on; restore refuses a directory a server holds."""

from __future__ import annotations

import asyncio
import os
import subprocess

from apikeys_client import Client, RpcError, StatusCode, operator
from conftest import apikeysd_path, start_server
from helpers import run


def apikeysd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(apikeysd_path()), *args], capture_output=True, timeout=120)


def test_backup_under_write_load_then_restore_and_serve(server_factory, tmp_path):
    srv = server_factory()
    backup_file = tmp_path / "apikeys-backup.sqlite"
    acknowledged_before: list[str] = []

    async def main():
        async with await Client.connect(*srv.address, credential=operator(srv.operator_credential)) as op:
            acknowledged: list[str] = []
            stop = asyncio.Event()

            async def writer():
                i = 0
                while not stop.is_set() and i < 5000:
                    await op.directory.create_tenant(tenant_id=f"t{i}", name=f"Tenant {i}")
                    acknowledged.append(f"t{i}")
                    i += 1

            task = asyncio.create_task(writer())
            while len(acknowledged) < 50:
                await asyncio.sleep(0.01)
            # Everything acknowledged before the backup starts must be in it.
            acknowledged_before.extend(acknowledged)
            proc = await asyncio.create_subprocess_exec(
                str(apikeysd_path()), "backup", "--data-dir", srv.data_dir, "--to", str(backup_file),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, (out, err)
            during = len(acknowledged)
            await asyncio.sleep(0.2)
            stop.set()
            await task
            assert len(acknowledged) > during or during > len(acknowledged_before), "no writes while backing up"

    run(main(), 180)
    assert os.stat(backup_file).st_mode & 0o777 == 0o600
    # The server kept serving during the backup and still holds its directory.
    refused = apikeysd("restore", "--from", str(backup_file), "--data-dir", srv.data_dir)
    assert refused.returncode == 1 and b"in use" in refused.stderr, refused
    # A backup never overwrites.
    again = apikeysd("backup", "--data-dir", srv.data_dir, "--to", str(backup_file))
    assert again.returncode == 1 and b"exists" in again.stderr, again
    assert srv.stop() == 0

    new_dir = tmp_path / "restored"
    restored = apikeysd("restore", "--from", str(backup_file), "--data-dir", str(new_dir))
    assert restored.returncode == 0, restored
    # Restoring over a database is refused.
    over = apikeysd("restore", "--from", str(backup_file), "--data-dir", str(new_dir))
    assert over.returncode == 1 and b"already holds a database" in over.stderr, over

    new = start_server(str(new_dir))
    try:
        assert new.operator_credential is None, "the restored store lost its operator credential"

        async def check():
            async with await Client.connect(*new.address, credential=operator(srv.operator_credential)) as op:
                missing = []
                for tenant in acknowledged_before:
                    try:
                        await op.directory.create_tenant(tenant_id=tenant, name="again")
                        missing.append(tenant)
                    except RpcError as e:
                        assert e.code == StatusCode.ALREADY_EXISTS, e
                return missing
        missing = run(check(), 120)
        assert not missing, f"acknowledged before the backup but not in it: {missing[:10]}"
        print(f"\n[reliability] backup under load: acknowledged before={len(acknowledged_before)} all restored")
    finally:
        assert new.stop() == 0


def test_backup_of_a_missing_data_directory_is_one_line(tmp_path):
    proc = apikeysd("backup", "--data-dir", str(tmp_path / "none"), "--to", str(tmp_path / "b.sqlite"))
    assert proc.returncode == 1
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "no database" in lines[0], lines
