"""The request engine: everything between "this sample needs an answer" and the backend's reply.

- ``dispatch``: per model, a queue of requests answered ahead of the items, ``concurrency`` at a
  time (remote) or in batches (local), each with retries;
- ``retry``: backoff with jitter that honours Retry-After, the same for every backend;
- ``ratelimit``: requests/s and tokens/min per endpoint, shared by every process of the run;
- ``concurrency``: ``--llm-concurrency auto``, the requests in flight per endpoint, adapted and
  shared likewise;
- ``store``: the response cache and journal, safe for several processes.

Which items ask ahead and how xdist schedules them is pytest's side of the run:
``suites/prefetch.py`` and ``suites/scheduler.py``.
"""
