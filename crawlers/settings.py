# Scrapy settings for Hallmark's crawlers.
#
# Started from Scrapy's project template (`scrapy startproject`), so a Scrapy user finds everything
# where they expect it. The numbers that operators tune (delays, timeouts, retries, the contact URL)
# come from Hallmark's own settings (HALLMARK_CRAWL_*) and are applied over these by
# `crawlers.process.scrapy_settings`; the values here are the defaults a bare `scrapy` run would use.
#
#     https://docs.scrapy.org/en/latest/topics/settings.html
#     https://docs.scrapy.org/en/latest/topics/downloader-middleware.html
#     https://docs.scrapy.org/en/latest/topics/spider-middleware.html

BOT_NAME = "hallmark"

SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

ADDONS: dict[str, int] = {}


# Crawl responsibly by identifying yourself (and your website) on the user-agent. The contact URL
# comes from HALLMARK_CRAWL_CONTACT_URL.
USER_AGENT = "Hallmark/0.1 counterfeit-monitoring crawler (+https://github.com/hallmark-project/hallmark)"

# Obey robots.txt rules
ROBOTSTXT_OBEY = True

# Concurrency and throttling settings
# https://docs.scrapy.org/en/latest/topics/settings.html#concurrent-requests
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 2
RANDOMIZE_DOWNLOAD_DELAY = True

# Marketplace pages are a few hundred kB; anything far bigger is not a page we want. Images get the
# image byte cap per request (meta "download_maxsize").
# https://docs.scrapy.org/en/latest/topics/settings.html#download-maxsize
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT = 20

# Retries with back-off for server errors and rate limits (429 honours Retry-After), none for 404:
# crawlers.retry.BackoffRetryMiddleware replaces Scrapy's immediate retries.
# https://docs.scrapy.org/en/latest/topics/downloader-middleware.html#module-scrapy.downloadermiddlewares.retry
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
HALLMARK_RETRY_BASE_DELAY = 2.0
HALLMARK_RETRY_MAX_DELAY = 120.0

# Disable cookies (enabled by default): search results must not depend on a session.
COOKIES_ENABLED = False

# Disable Telnet Console (enabled by default)
TELNETCONSOLE_ENABLED = False

# Override the default request headers:
# DEFAULT_REQUEST_HEADERS = {
#    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
#    "Accept-Language": "en",
# }

# Enable or disable spider middlewares
# See https://docs.scrapy.org/en/latest/topics/spider-middleware.html
# SPIDER_MIDDLEWARES = {
#    "crawlers.middlewares.HallmarkSpiderMiddleware": 543,
# }

# Enable or disable downloader middlewares
# See https://docs.scrapy.org/en/latest/topics/downloader-middleware.html
DOWNLOADER_MIDDLEWARES = {
    # Untrusted URLs (listing photos) are refused before a connection is made to a private address.
    "crawlers.guard.UntrustedUrlMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.retry.BackoffRetryMiddleware": 550,
}

# Every host name is resolved through the SSRF guard at connect time (hallmark.safe_fetch's rules);
# only the crawl job's own base host is exempt, because the operator chose it.
# https://docs.scrapy.org/en/latest/topics/settings.html#dns-resolver
DNS_RESOLVER = "crawlers.guard.GuardedResolver"

# Pages that build their listings in JavaScript are rendered by Chromium through scrapy-playwright;
# crawlers.process switches these handlers on only for adapters that need a browser, so other crawls
# never start one.
# https://github.com/scrapy-plugins/scrapy-playwright#activation
# DOWNLOAD_HANDLERS = {
#     "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
#     "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
# }
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 1

# Enable or disable extensions
# See https://docs.scrapy.org/en/latest/topics/extensions.html
# EXTENSIONS = {
#    "scrapy.extensions.telnet.TelnetConsole": None,
# }
# A crawl that runs away (a calendar of endless pages) is closed; it then counts as partial.
CLOSESPIDER_TIMEOUT = 3600

# Configure item pipelines
# See https://docs.scrapy.org/en/latest/topics/item-pipeline.html
ITEM_PIPELINES = {
    "crawlers.pipelines.ListingStorePipeline": 300,
}

# Enable and configure the AutoThrottle extension (disabled by default)
# See https://docs.scrapy.org/en/latest/topics/autothrottle.html
AUTOTHROTTLE_ENABLED = True
# The initial download delay
AUTOTHROTTLE_START_DELAY = 5
# The maximum download delay to be set in case of high latencies
AUTOTHROTTLE_MAX_DELAY = 30
# The average number of requests Scrapy should be sending in parallel to
# each remote server
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# Enable showing throttling stats for every response received:
# AUTOTHROTTLE_DEBUG = False

# Enable and configure HTTP caching (disabled by default): re-crawls must see the live site.
# See https://docs.scrapy.org/en/latest/topics/downloader-middleware.html#httpcache-middleware-settings
# HTTPCACHE_ENABLED = True
# HTTPCACHE_EXPIRATION_SECS = 0
# HTTPCACHE_DIR = "httpcache"
# HTTPCACHE_IGNORE_HTTP_CODES = []
# HTTPCACHE_STORAGE = "scrapy.extensions.httpcache.FilesystemCacheStorage"

# scrapy-playwright needs the asyncio reactor (Scrapy's default since 2.13).
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

LOG_LEVEL = "INFO"

# Set settings whose default value is deprecated to a future-proof value
FEED_EXPORT_ENCODING = "utf-8"
