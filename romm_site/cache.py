"""Django's Redis cache, keeping its Redis client instead of building one per operation.

Django's ``RedisCacheClient.get_client`` makes a new ``redis.Redis`` for every get, add or
set; building one fills a table of response callbacks, which costs more than the loopback
round trip itself (a sign-in makes three cache operations). The client is safe to share
between threads and keeps using Django's connection pool, so one per pool is enough.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedClients(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClients
