# The Scrapy side of the peers harness (bench/peers): follow every link of
# every page, as a Scrapy user writes it (a Spider and a LinkExtractor),
# with the concurrency and delay the harness passes as -s settings. As
# documented, its start URLs are fetched with dont_filter, so a seed that a
# page links to is fetched a second time (the harness counts it).
import scrapy
from scrapy.linkextractors import LinkExtractor


class PeersSpider(scrapy.Spider):
    name = "peers"

    def __init__(self, seeds=None, hosts=None, **kwargs):
        super().__init__(**kwargs)
        with open(seeds) as f:
            self.start_urls = [line.strip() for line in f if line.strip()]
        self.allowed_domains = hosts.split(",")
        self.links = LinkExtractor(tags=("a",), attrs=("href",))

    def parse(self, response):
        for link in self.links.extract_links(response):
            yield scrapy.Request(link.url, callback=self.parse)
