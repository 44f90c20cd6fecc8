import hashlib

from risk_model.files import sha256_file


def test_sha256_of_a_file_read_in_blocks_equals_the_digest_of_its_bytes(tmp_path):
    data = bytes(range(256)) * 9000  # ~2.2 MiB: three blocks, the last one partial
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_one_changed_byte_in_a_later_block_changes_the_digest(tmp_path):
    data = bytearray(3 << 20)
    (tmp_path / "a").write_bytes(data)
    data[(2 << 20) + 7] = 1
    (tmp_path / "b").write_bytes(data)
    assert sha256_file(tmp_path / "a") != sha256_file(tmp_path / "b")
