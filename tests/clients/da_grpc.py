"""0G's disperser gRPC API driven by a client that is not ours: Python grpcio with stubs generated
from assets/proto/disperser.proto at run time (grpc_tools.protoc).

usage: da_grpc.py <proto dir> <host:port>
Prints one JSON object with what it saw; exits non-zero on any mismatch.
"""
import json
import os
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc


def stubs(proto_dir):
    out = tempfile.mkdtemp()
    code = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out}", f"--grpc_python_out={out}", os.path.join(proto_dir, "disperser.proto")])
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    sys.path.insert(0, out)
    import disperser_pb2
    import disperser_pb2_grpc
    return disperser_pb2, disperser_pb2_grpc


def main():
    proto_dir, target = sys.argv[1], sys.argv[2]
    pb, rpc = stubs(proto_dir)
    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    channel = grpc.insecure_channel(target, options=options)
    client = rpc.DisperserStub(channel)
    seen = {}

    data = bytes((i * 131 + 7) % 251 for i in range(300_000))
    reply = client.DisperseBlob(pb.DisperseBlobRequest(data=data), timeout=60)
    assert reply.result == pb.PROCESSING, reply
    assert len(reply.request_id) > 0
    seen["requestIdBytes"] = len(reply.request_id)

    statuses = []
    deadline = time.time() + 90
    info = None
    while time.time() < deadline:
        status = client.GetBlobStatus(pb.BlobStatusRequest(request_id=reply.request_id), timeout=10)
        name = pb.BlobStatus.Name(status.status)
        if not statuses or statuses[-1] != name:
            statuses.append(name)
        if status.status in (pb.FAILED, pb.INSUFFICIENT_SIGNATURES):
            raise SystemExit(f"dispersal ended {name}")
        if status.status == pb.FINALIZED:
            info = status.info
            break
        time.sleep(0.2)
    assert info is not None, f"not finalized in time: {statuses}"
    seen["statuses"] = statuses
    header = info.blob_header
    assert len(header.storage_root) == 32

    back = client.RetrieveBlob(pb.RetrieveBlobRequest(storage_root=header.storage_root, epoch=header.epoch, quorum_id=header.quorum_id), timeout=60)
    assert back.data == data, "retrieved blob differs"
    seen["retrievedBytes"] = len(back.data)

    refusals = {}
    for name, call in [
        ("empty", lambda: client.DisperseBlob(pb.DisperseBlobRequest(data=b""), timeout=10)),
        ("badRequestId", lambda: client.GetBlobStatus(pb.BlobStatusRequest(request_id=b"\x01\x02"), timeout=10)),
        ("unknownBlob", lambda: client.GetBlobStatus(pb.BlobStatusRequest(request_id=bytes(40)), timeout=10)),
        ("badRoot", lambda: client.RetrieveBlob(pb.RetrieveBlobRequest(storage_root=b"\x00"), timeout=10)),
        # 0G's cap is 31,744 KiB (32,505,856 bytes, the last 4 the length field): one byte over
        # the largest blob, then a message past what the service reads at all.
        ("overCap", lambda: client.DisperseBlob(pb.DisperseBlobRequest(data=bytes(32_505_853)), timeout=30)),
        ("overMessage", lambda: client.DisperseBlob(pb.DisperseBlobRequest(data=bytes(33 << 20)), timeout=30)),
    ]:
        try:
            call()
            raise SystemExit(f"{name} was accepted")
        except grpc.RpcError as error:
            refusals[name] = error.code().name
    seen["refusals"] = refusals
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
