"""threading: workers under a lock, a Condition, a Barrier and a ThreadPoolExecutor."""
import threading
from concurrent.futures import ThreadPoolExecutor

N, T = 200000, 8
total = 0
lock = threading.Lock()
barrier = threading.Barrier(T + 1)
seen = []


def worker(i):
    global total
    barrier.wait()
    s = sum(range(i, N, T))
    with lock:
        total += s


ths = [threading.Thread(target=worker, args=(i,)) for i in range(T)]
for th in ths:
    th.start()
seen.append(threading.active_count())
barrier.wait()
for th in ths:
    th.join()
print("active while waiting", seen[0])
print("total", total)
with ThreadPoolExecutor(max_workers=4) as ex:
    print("pool", sum(ex.map(lambda x: x * x, range(1000))))
cond = threading.Condition()
items = []


def producer():
    for i in range(5):
        with cond:
            items.append(i)
            cond.notify()


p = threading.Thread(target=producer)
p.start()
got = []
while len(got) < 5:
    with cond:
        cond.wait_for(lambda: items)
        got.extend(items)
        items.clear()
p.join()
print("consumed", got)
