"""A local marketplace with a server-rendered and a JavaScript storefront, for demos and crawler tests."""

from crawlers.demo_market.app import create_app, serve, serving_in_background
from crawlers.demo_market.data import Market, MarketListing

__all__ = ["Market", "MarketListing", "create_app", "serve", "serving_in_background"]
