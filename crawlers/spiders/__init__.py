"""The crawl's spiders: one generic spider, driven by a site adapter."""
