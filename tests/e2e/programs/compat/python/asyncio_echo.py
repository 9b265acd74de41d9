"""asyncio: a stream server and clients on 127.0.0.1, gather, timeouts and a subprocess."""
import asyncio


async def handle(reader, writer):
    while line := await reader.readline():
        writer.write(line.upper())
        await writer.drain()
    writer.close()


async def client(port, word):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(word.encode() + b"\n")
    await writer.drain()
    got = (await reader.readline()).decode().strip()
    writer.close()
    await writer.wait_closed()
    return got


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    words = ["one", "two", "three", "four"]
    print("echo", await asyncio.gather(*(client(port, w) for w in words)))
    server.close()
    await server.wait_closed()
    try:
        await asyncio.wait_for(asyncio.sleep(10), timeout=0.05)
    except asyncio.TimeoutError:
        print("timeout ok")
    proc = await asyncio.create_subprocess_exec("sh", "-c", "echo from-sub; exit 3",
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    print("subprocess", out.decode().strip(), proc.returncode)


asyncio.run(main())
