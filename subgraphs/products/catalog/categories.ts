/**
 * The demo catalog's categories. The Online Retail data has none, so they are derived from the
 * product name: of the rules below that share a word with the name, the first listed wins (whole
 * words, upper case; "T-LIGHT" counts as the words T and LIGHT). Names matching no rule go to "Other".
 */
export const CATEGORY_RULES: readonly { readonly id: string; readonly name: string; readonly words: readonly string[] }[] = [
  { id: 'christmas', name: 'Christmas', words: ['CHRISTMAS', 'XMAS', 'ADVENT', 'SANTA', 'REINDEER', 'SNOWFLAKE', 'BAUBLE', 'NATIVITY'] },
  { id: 'easter', name: 'Easter', words: ['EASTER', 'CHICK', 'CHICKS', 'BUNNY'] },
  {
    id: 'jewellery',
    name: 'Jewellery',
    words: ['NECKLACE', 'BRACELET', 'EARRINGS', 'RING', 'RINGS', 'CHARM', 'BEAD', 'BEADS', 'DIAMANTE', 'BROOCH', 'BANGLE', 'PENDANT', 'HAIR', 'JEWELLERY'],
  },
  {
    id: 'candles-lights',
    name: 'Candles & Lights',
    words: ['CANDLE', 'CANDLES', 'LIGHT', 'LIGHTS', 'LANTERN', 'LAMP', 'INCENSE', 'NIGHTLIGHT', 'BURNER', 'FRAGRANCE', 'DIFFUSER'],
  },
  { id: 'bags', name: 'Bags', words: ['BAG', 'BAGS', 'HANDBAG', 'PURSE', 'SHOPPER', 'TOTE', 'BACKPACK', 'RUCKSACK'] },
  {
    id: 'party',
    name: 'Party',
    words: ['PARTY', 'BIRTHDAY', 'BUNTING', 'BALLOON', 'BALLOONS', 'CONFETTI', 'NAPKINS', 'NAPKIN', 'CAKE CASES', 'CASES'],
  },
  {
    id: 'kitchen-dining',
    name: 'Kitchen & Dining',
    words: [
      'MUG',
      'MUGS',
      'CUP',
      'CUPS',
      'SAUCER',
      'TEA',
      'TEAPOT',
      'COFFEE',
      'CAKE',
      'CAKES',
      'CAKESTAND',
      'BOWL',
      'BOWLS',
      'PLATE',
      'PLATES',
      'CUTLERY',
      'SPOON',
      'SPOONS',
      'JAR',
      'JARS',
      'BOTTLE',
      'TRAY',
      'KITCHEN',
      'PANTRY',
      'BAKING',
      'LUNCH',
      'DISH',
      'JUG',
      'GLASSES',
      'CHOPSTICKS',
      'APRON',
      'OVEN',
      'TUMBLER',
      'BEAKER',
      'EGG CUP',
      'BISCUIT',
      'JAM',
      'RECIPE',
      'TEATIME',
      'TEACUP',
    ],
  },
  {
    id: 'stationery-wrap',
    name: 'Stationery & Gift Wrap',
    words: [
      'CARD',
      'CARDS',
      'PAPER',
      'WRAP',
      'NOTEBOOK',
      'PEN',
      'PENS',
      'PENCIL',
      'PENCILS',
      'STICKER',
      'STICKERS',
      'TAPE',
      'RIBBON',
      'RIBBONS',
      'ENVELOPE',
      'ENVELOPES',
      'TISSUE',
      'TISSUES',
      'CALENDAR',
      'DIARY',
      'NOTEPAD',
      'STATIONERY',
      'ERASER',
      'ERASERS',
      'RULER',
      'TAG',
      'TAGS',
      'BOOK',
      'SKETCHBOOK',
      'SCISSOR',
      'SCISSORS',
      'PUNCH',
      'CHALK',
      'STAMP',
      'STAMPS',
    ],
  },
  {
    id: 'toys-games',
    name: 'Toys & Games',
    words: [
      'TOY',
      'TOYS',
      'DOLLY',
      'DOLL',
      'GAME',
      'GAMES',
      'FELTCRAFT',
      'SPACEBOY',
      'PLAYHOUSE',
      'JIGSAW',
      'PUZZLE',
      'CRAYONS',
      'COLOURING',
      'CHILDRENS',
      'CHILDS',
      'KIDS',
      'DOMINOES',
      'SKIPPING',
      'SOLDIER',
      'TEDDY',
      'MARBLES',
      'PAINTING',
      'KIT',
      'INFLATABLE',
      'RATTLE',
      'MONSTER',
    ],
  },
  {
    id: 'garden',
    name: 'Garden & Outdoors',
    words: ['GARDEN', 'PLANT', 'PLANTER', 'WATERING', 'HERB', 'HERBS', 'SEED', 'SEEDS', 'BIRD', 'BIRDHOUSE', 'FEEDER', 'PICNIC', 'UMBRELLA', 'PARASOL'],
  },
  {
    id: 'storage',
    name: 'Storage',
    words: ['BOX', 'BOXES', 'TIN', 'TINS', 'STORAGE', 'BASKET', 'BASKETS', 'CASE', 'CRATE', 'HAMPER', 'DRAWER', 'DRAWERS', 'CABINET', 'TRUNK', 'CHEST'],
  },
  {
    id: 'home-decor',
    name: 'Home Decor',
    words: [
      'CUSHION',
      'FRAME',
      'MIRROR',
      'CLOCK',
      'SIGN',
      'DOORMAT',
      'VASE',
      'HOOK',
      'HOOKS',
      'COVER',
      'PHOTO',
      'TILE',
      'DECORATION',
      'GARLAND',
      'WALL',
      'HANGING',
      'ORNAMENT',
      'CURTAIN',
      'CHALKBOARD',
      'DOORSTOP',
      'COAT',
      'HANGER',
      'PLAQUE',
      'WREATH',
      'THROW',
      'BLANKET',
      'CUSHIONS',
      'MOBILE',
      'DOORSIGN',
      'CANVAS',
      'PRINT',
      'LINERS',
      'FAN',
    ],
  },
  { id: 'bath-beauty', name: 'Bath & Beauty', words: ['SOAP', 'BATH', 'TOWEL', 'COSMETIC', 'MAKEUP', 'SPONGE', 'WASHBAG', 'TOILETRY'] },
  {
    id: 'fashion',
    name: 'Fashion Accessories',
    words: ['SCARF', 'HAT', 'GLOVES', 'SLIPPERS', 'SLIPPER', 'SOCKS', 'WALLET', 'SUNGLASSES', 'PONCHO', 'KEYRING', 'KEY CHAINS', 'COMPACT'],
  },
];

export const OTHER_CATEGORY = { id: 'other', name: 'Other' } as const;

const byWord = new Map<string, number>();
CATEGORY_RULES.forEach((rule, index) => {
  for (const word of rule.words) if (!byWord.has(word)) byWord.set(word, index);
});

/** The category of a product name under CATEGORY_RULES. */
export function categoryForName(name: string): { id: string; name: string } {
  const words = name.toUpperCase().match(/[A-Z]+/g) ?? [];
  let best = Infinity;
  for (let i = 0; i < words.length; i++) {
    const single = byWord.get(words[i]!);
    if (single !== undefined) best = Math.min(best, single);
    if (i + 1 < words.length) {
      const double = byWord.get(`${words[i]} ${words[i + 1]}`);
      if (double !== undefined) best = Math.min(best, double);
    }
  }
  const rule = CATEGORY_RULES[best];
  return rule === undefined ? OTHER_CATEGORY : { id: rule.id, name: rule.name };
}
