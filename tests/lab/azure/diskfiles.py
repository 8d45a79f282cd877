"""Disk contents: one sparse file per managed disk or snapshot, as big as the disk.

Copies (disk from disk, disk from snapshot, snapshot of a disk) copy the bytes, skipping holes so
that a 1 TiB disk with a few kilobytes written costs a few kilobytes; a resize grows the file.
The Kubernetes lab's writer appends after the last byte written, which is found from the file's
data extents.
"""

import errno
import os

CHUNK = 1 << 20


class DiskFullError(Exception):
    """An append would pass the end of the disk."""


class DiskFiles:
    """The folder of disk images, named by the disk's (or snapshot's) uniqueId."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def path(self, unique_id):
        """The image file of a disk."""
        return os.path.join(self.folder, f"{unique_id}.img")

    def create(self, unique_id, size):
        """A new all-zero (sparse) image of ``size`` bytes."""
        with open(self.path(unique_id), "wb") as handle:
            handle.truncate(size)

    def grow(self, unique_id, size):
        """Extend an image to ``size`` bytes (disks never shrink)."""
        with open(self.path(unique_id), "r+b") as handle:
            handle.truncate(size)

    def delete(self, unique_id):
        """Remove an image if present."""
        try:
            os.remove(self.path(unique_id))
        except FileNotFoundError:
            pass

    def copy(self, source_id, target_id, size):
        """Copy the written extents of one image into a new image of ``size`` bytes."""
        with open(self.path(source_id), "rb") as source, open(self.path(target_id), "wb") as target:
            target.truncate(size)
            for start, end in _extents(source.fileno()):
                source.seek(start)
                target.seek(start)
                remaining = min(end, size) - start
                while remaining > 0:
                    data = source.read(min(CHUNK, remaining))
                    target.write(data)
                    remaining -= len(data)

    def size(self, unique_id):
        """The image's size in bytes."""
        return os.path.getsize(self.path(unique_id))

    def data_end(self, unique_id):
        """The offset just after the last non-zero byte."""
        with open(self.path(unique_id), "rb") as handle:
            extents = list(_extents(handle.fileno()))
            for start, end in reversed(extents):
                position = end
                while position > start:
                    step = min(CHUNK, position - start)
                    handle.seek(position - step)
                    data = handle.read(step).rstrip(b"\0")
                    if data:
                        return position - step + len(data)
                    position -= step
        return 0

    def read(self, unique_id, offset=0, length=None):
        """Bytes of an image; by default everything up to the last written byte."""
        end = self.data_end(unique_id) if length is None else offset + length
        with open(self.path(unique_id), "rb") as handle:
            handle.seek(offset)
            return handle.read(max(0, end - offset))

    def append(self, unique_id, data):
        """Write ``data`` just after the last written byte; returns the new data end."""
        start = self.data_end(unique_id)
        if start + len(data) > self.size(unique_id):
            raise DiskFullError(f"no space left: {start + len(data)} bytes needed, disk has {self.size(unique_id)}")
        with open(self.path(unique_id), "r+b") as handle:
            handle.seek(start)
            handle.write(data)
        return start + len(data)


def _extents(fd):
    """(start, end) of every data extent of a file (the whole file where SEEK_DATA is not supported)."""
    size = os.fstat(fd).st_size
    position = 0
    while position < size:
        try:
            start = os.lseek(fd, position, os.SEEK_DATA)
        except OSError as error:
            if error.errno != errno.ENXIO:
                yield position, size
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end
        position = end
