/**
 * Real customers of the shipped Online Retail history (their CustomerID is their user id), the
 * most frequent buyers first: `npm start`'s simulator makes them shop again, and the storefront's
 * picker offers the first few, so buy-again and also-bought lists show on real purchases.
 */
export const REAL_CUSTOMERS: readonly string[] = [
  '17841',
  '14911',
  '14096',
  '12748',
  '14606',
  '15311',
  '14646',
  '13089',
  '14298',
  '13263',
  '15039',
  '14156',
  '18118',
  '14769',
  '14159',
  '15005',
  '14796',
  '14056',
  '16033',
  '15719',
  '14527',
  '17511',
  '16931',
  '13081',
  '12415',
  '15555',
  '14456',
  '17735',
  '15547',
  '16904',
  '17811',
  '15529',
  '16686',
  '12921',
  '16729',
  '17850',
];

/** A shopper the picker offers, standing in for a login. */
export interface DemoCustomer {
  readonly id: string;
  readonly label: string;
}

/** The picker's default: six of the dataset's customers (the first and best known one, 17850, among them). */
export const PICKER_CUSTOMERS: readonly DemoCustomer[] = ['17850', '17841', '14911', '12748', '14606', '13089'].map((id) => ({
  id,
  label: `Customer ${id}`,
}));

/** Ids the storefront makes up for new visitors: `visitor-` and 16 hex digits. */
export const VISITOR_ID = /^visitor-[0-9a-f]{16}$/;
