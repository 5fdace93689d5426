"""synthkb's word pools: the names, places, organisations and titles the world is drawn from.

Pure data. The world (:mod:`.world`), the wrong answers (:mod:`.facts`) and the offline
generator's invented values (:mod:`.offline`) all draw from these tuples, so a changed pool
changes every seed's benchmark.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Mara", "Jonas", "Ilse", "Tomas", "Anouk", "Bram", "Cora", "Dario", "Elin", "Felix",
    "Greta", "Hugo", "Ines", "Jasper", "Katya", "Lorenz", "Maren", "Nils", "Odile", "Pavel",
    "Quinn", "Rosa", "Soren", "Talia", "Ulric", "Vera", "Wim", "Xenia", "Yara", "Zeno",
    "Alma", "Benedikt", "Celia", "Dorian", "Edda", "Fenna", "Gideon", "Hanne", "Ivo", "Juna",
    "Kasimir", "Liora", "Milo", "Nadia", "Oskar", "Petra", "Rafael", "Selma", "Teodor", "Ursula",
    "Valentin", "Wilma", "Yorick", "Zora", "Anselm", "Brigid", "Cyrus", "Dagny", "Emeric", "Freya",
)  # fmt: skip
SURNAMES = (
    "Kolb", "Varga", "Lindqvist", "Marchetti", "Okafor", "Brandt", "Castell", "Dufresne", "Eklund",
    "Falk", "Grieve", "Halloran", "Ibsen", "Jaramillo", "Kessler", "Lachance", "Moreau", "Nakamura",
    "Oduya", "Petrov", "Quintero", "Rask", "Sandoval", "Thorne", "Ulloa", "Vance", "Weller",
    "Yilmaz", "Zubiri", "Abernathy", "Bellamy", "Corrigan", "Delacroix", "Esposito", "Fairweather",
    "Galloway", "Hartmann", "Iversen", "Jovanovic", "Kowalski", "Lomax", "Mercer", "Norcross",
    "Orlov", "Pemberton", "Rourke", "Stroud", "Tavares", "Underhill", "Voss", "Whitlock", "Aldana",
    "Brennan", "Cardenas", "Dunmore", "Everly", "Ferrante", "Gustafsson", "Holm", "Ingram",
)  # fmt: skip
CITIES = (
    "Valdmere", "Korsholt", "Ambrevale", "Tessarin", "Orvik", "Brenhollow", "Caldris", "Dunmarrow",
    "Eskerfield", "Fallowmere", "Glimsby", "Harrowdeep", "Istrell", "Juneport", "Kestrow",
    "Lindervale",
)  # fmt: skip
COUNTRIES = (
    "Estavia", "Norvania", "Calderra", "Osterland", "Valmoria", "Tirlund", "Marrosa", "Quellmark",
    "Brevonia", "Sundara",
)  # fmt: skip
PROFESSIONS = (
    "cartographer", "architect", "botanist", "civil engineer", "data analyst", "dentist",
    "economist", "electrician", "glassblower", "historian", "illustrator", "journalist",
    "librarian", "marine biologist", "midwife", "nurse", "pharmacist", "photographer", "physicist",
    "pilot", "potter", "sculptor", "software developer", "surveyor", "teacher", "translator",
    "veterinarian", "watchmaker", "baker", "carpenter", "tailor", "beekeeper",
)  # fmt: skip
ORGANISATIONS = (
    "Lumenworks", "Brightwater Analytics", "Corvid Labs", "Halden and Sons", "Northgate Institute",
    "Pellucid Systems", "Quarry Hill Press", "Saltmarsh Biotech", "Tidewell Foundation",
    "Vantor Aerospace", "Wren Mercantile", "Orchard Robotics", "Ferrous Rail", "Marigold Health",
)  # fmt: skip
AWARDS = (
    "Orrin Prize", "Halvard Medal", "Silver Quill Award", "Meridian Fellowship", "Castellan Prize",
    "Lodestar Award", "Greywater Medal", "Aurel Prize", "Beacon Award", "Thistle Medal",
    "Corvina Prize", "Northlight Award", "Vesper Medal", "Wayfarer Prize",
)  # fmt: skip
STREETS = (
    "Alder Lane", "Birch Road", "Canal Street", "Dovecote Row", "Elm Terrace", "Ferry Road",
    "Granary Lane", "Heron Close", "Ivy Street", "Juniper Way", "Kiln Lane", "Linden Avenue",
    "Mill Street", "Nettle Row", "Orchard Road", "Pilgrim Way", "Quarry Lane", "Rope Walk",
    "Salt Street", "Tanner Row",
)  # fmt: skip
EMAIL_DOMAINS = (
    "postmark.net", "quillmail.com", "fernpost.org", "kestrel.io", "inkwell.net", "harbormail.com",
    "orbitmail.org", "lanternbox.net",
)  # fmt: skip
EMAIL_FORMATS = ("{f}.{l}", "{f}{l}", "{i}.{l}", "{f}_{l}")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
TITLE_ADJECTIVES = (
    "Silent", "Hidden", "Amber", "Broken", "Distant", "Golden", "Hollow", "Iron", "Last", "Lost",
    "Northern", "Quiet", "Restless", "Scarlet", "Shifting", "Slow", "Sunken", "Tangled", "Velvet",
    "Wandering", "Winter", "Crimson", "Patient", "Borrowed",
)  # fmt: skip
TITLE_NOUNS = (
    "Harbour", "Orchard", "Lantern", "Meridian", "Compass", "Garden", "Lighthouse", "River",
    "Kestrel", "Cartwheel", "Archive", "Bridge", "Furnace", "Glacier", "Hourglass", "Island",
    "Mirror", "Observatory", "Pendulum", "Quarry", "Sparrow", "Tide", "Vineyard", "Workshop",
)  # fmt: skip
PAPER_HEADS = (
    "A Survey of", "Notes on", "Towards Better", "Rethinking", "A Theory of", "Measuring",
    "Modelling", "Revisiting",
)  # fmt: skip
PAPER_TOPICS = (
    "Tidal Mapping", "Urban Soil", "Glass Fatigue", "Migratory Bees", "Coastal Erosion",
    "Lichen Growth", "Bridge Acoustics", "Seed Banks", "Winter Light", "River Sediment",
    "Rail Timetables", "Cloud Formation", "Clock Drift", "Harbour Silt", "Moss Ecology",
    "Kiln Temperatures",
)  # fmt: skip
PRODUCT_MODELS = ("One", "Pro", "Mini", "Air", "Max", "Duo")
PRODUCT_DEVICES = ("lamp", "kettle", "bicycle", "camera", "speaker", "drone", "watch", "chair")
WORK_KINDS = ("book", "paper", "product")
RELATION_TYPES = ("cousin", "close friend", "former classmate", "business partner")
