"""The request engine: everything between "this sample needs an answer" and the backend's reply.

- ``dispatch``: per model, a queue of requests answered ahead of the items, ``concurrency`` at a
  time (remote) or in batches (local), each with retries;
- ``retry``: backoff with jitter that honours Retry-After, the same for every backend;
- ``ratelimit``: requests/s and tokens/min per endpoint, shared by every process of the run;
- ``store``: the response cache and journal, safe for several processes;
- ``prefetch``: which upcoming items a process may ask for before they run;
- ``scheduler``: the xdist scheduling that keeps each subject on one worker.
"""
