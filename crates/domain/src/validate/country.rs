//! Countries, by ISO 3166-1 alpha-2 code.

use std::fmt;

use super::Invalid;
use crate::Lang;

const KIND: &str = "country";

/// Names longer than this are not in the table; refusing them early bounds the
/// name search.
const MAX_NAME: usize = 80;

/// A current ISO 3166-1 country, stored as its upper-case alpha-2 code (`NL`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country(u8);

text_value!(Country);

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Country").field(&self.as_str()).finish()
    }
}

impl Country {
    /// Accepts the alpha-2 or alpha-3 code in any case (`nl`, `NLD`), the
    /// English or Dutch name (`Netherlands`, `Nederland`), the ISO long form
    /// (`Kingdom of the Netherlands`) and a few everyday names (`Holland`,
    /// `UK`). Names ignore case, accents, spaces and punctuation.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let text = input.trim();
        if text.is_empty() {
            return Err(Invalid::new(KIND, "empty", "Vul een land in.", "Enter a country."));
        }
        if text.len() <= 3 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
            let upper = text.to_ascii_uppercase();
            if let Some(i) = COUNTRIES.iter().position(|c| c.0 == upper || c.1 == upper) {
                return Ok(Country(i as u8));
            }
        }
        if text.chars().count() <= MAX_NAME {
            if let Some(i) = COUNTRIES.iter().position(|c| same_name(text, c.2) || same_name(text, c.3)) {
                return Ok(Country(i as u8));
            }
            if let Some((_, code)) = ISO_NAMES.iter().chain(&EVERYDAY_NAMES).find(|(name, _)| same_name(text, name)) {
                return Ok(Country(index_of(code)));
            }
        }
        Err(Invalid::new(
            KIND,
            "unknown",
            "Dit land is onbekend; gebruik de landcode (zoals NL) of de naam van het land.",
            "This country is unknown; use the country code (like NL) or the country's name.",
        ))
    }

    pub const fn netherlands() -> Self {
        Country(index_of("NL"))
    }

    /// The alpha-2 code (`NL`).
    pub fn as_str(&self) -> &'static str {
        COUNTRIES[self.0 as usize].0
    }

    /// The alpha-3 code (`NLD`).
    pub fn alpha3(&self) -> &'static str {
        COUNTRIES[self.0 as usize].1
    }

    /// The short name in the given language (`Netherlands`, `Nederland`).
    pub fn name(&self, lang: Lang) -> &'static str {
        let (_, _, en, nl) = COUNTRIES[self.0 as usize];
        lang.pick(nl, en)
    }

    /// Every country, ordered by code; for pick lists.
    pub fn all() -> impl Iterator<Item = Country> {
        (0..COUNTRIES.len()).map(|i| Country(i as u8))
    }
}

/// Table index of an alpha-2 code known to be in the table.
const fn index_of(code: &str) -> u8 {
    let code = code.as_bytes();
    let mut i = 0;
    while i < COUNTRIES.len() {
        let c = COUNTRIES[i].0.as_bytes();
        if c[0] == code[0] && c[1] == code[1] {
            return i as u8;
        }
        i += 1;
    }
    panic!("country code missing from the table");
}

/// Compares names the way people type them: case, accents, spaces and
/// punctuation do not matter (`belgie` is `België`, `guinea bissau` is `Guinea-Bissau`).
fn same_name(a: &str, b: &str) -> bool {
    folded(a).eq(folded(b))
}

fn folded(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase).filter(|c| c.is_alphanumeric()).map(|c| match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    })
}

/// Names people use that ISO does not, including a few in the neighbours'
/// own languages.
const EVERYDAY_NAMES: [(&str, &str); 37] = [
    ("Holland", "NL"),
    ("The Netherlands", "NL"),
    ("UK", "GB"),
    ("Great Britain", "GB"),
    ("Britain", "GB"),
    ("Groot-Brittannië", "GB"),
    ("England", "GB"),
    ("Engeland", "GB"),
    ("Scotland", "GB"),
    ("Schotland", "GB"),
    ("Wales", "GB"),
    ("Northern Ireland", "GB"),
    ("Noord-Ierland", "GB"),
    ("Amerika", "US"),
    ("Verenigde Staten van Amerika", "US"),
    ("Turkey", "TR"),
    ("Tsjechische Republiek", "CZ"),
    ("Macedonia", "MK"),
    ("Macedonië", "MK"),
    ("Swaziland", "SZ"),
    ("Cape Verde", "CV"),
    ("Ivory Coast", "CI"),
    ("East Timor", "TL"),
    ("Burma", "MM"),
    ("Deutschland", "DE"),
    ("Belgique", "BE"),
    ("Belgien", "BE"),
    ("Lëtzebuerg", "LU"),
    ("Österreich", "AT"),
    ("Schweiz", "CH"),
    ("Suisse", "CH"),
    ("España", "ES"),
    ("Italia", "IT"),
    ("Polska", "PL"),
    ("Danmark", "DK"),
    ("Sverige", "SE"),
    ("Norge", "NO"),
];

/// All 249 current ISO 3166-1 entries, sorted by alpha-2 code: (alpha-2,
/// alpha-3, English short name, Dutch short name). Codes and names from ISO
/// 3166-1 with the Dutch names of the iso-codes project (4.15); a few ISO
/// names are given in their everyday form, the ISO form staying parseable via
/// `ISO_NAMES`.
const COUNTRIES: [(&str, &str, &str, &str); 249] = [
    ("AD", "AND", "Andorra", "Andorra"),
    ("AE", "ARE", "United Arab Emirates", "Verenigde Arabische Emiraten"),
    ("AF", "AFG", "Afghanistan", "Afghanistan"),
    ("AG", "ATG", "Antigua and Barbuda", "Antigua en Barbuda"),
    ("AI", "AIA", "Anguilla", "Anguilla"),
    ("AL", "ALB", "Albania", "Albanië"),
    ("AM", "ARM", "Armenia", "Armenië"),
    ("AO", "AGO", "Angola", "Angola"),
    ("AQ", "ATA", "Antarctica", "Antarctica"),
    ("AR", "ARG", "Argentina", "Argentinië"),
    ("AS", "ASM", "American Samoa", "Amerikaans-Samoa"),
    ("AT", "AUT", "Austria", "Oostenrijk"),
    ("AU", "AUS", "Australia", "Australië"),
    ("AW", "ABW", "Aruba", "Aruba"),
    ("AX", "ALA", "Åland Islands", "Ålandseilanden"),
    ("AZ", "AZE", "Azerbaijan", "Azerbeidzjan"),
    ("BA", "BIH", "Bosnia and Herzegovina", "Bosnië en Herzegovina"),
    ("BB", "BRB", "Barbados", "Barbados"),
    ("BD", "BGD", "Bangladesh", "Bangladesh"),
    ("BE", "BEL", "Belgium", "België"),
    ("BF", "BFA", "Burkina Faso", "Burkina Faso"),
    ("BG", "BGR", "Bulgaria", "Bulgarije"),
    ("BH", "BHR", "Bahrain", "Bahrein"),
    ("BI", "BDI", "Burundi", "Burundi"),
    ("BJ", "BEN", "Benin", "Benin"),
    ("BL", "BLM", "Saint Barthélemy", "Saint-Barthélemy"),
    ("BM", "BMU", "Bermuda", "Bermuda"),
    ("BN", "BRN", "Brunei", "Brunei"),
    ("BO", "BOL", "Bolivia", "Bolivia"),
    ("BQ", "BES", "Bonaire, Sint Eustatius and Saba", "Bonaire, Sint Eustatius en Saba"),
    ("BR", "BRA", "Brazil", "Brazilië"),
    ("BS", "BHS", "Bahamas", "Bahama's"),
    ("BT", "BTN", "Bhutan", "Bhutan"),
    ("BV", "BVT", "Bouvet Island", "Bouveteiland"),
    ("BW", "BWA", "Botswana", "Botswana"),
    ("BY", "BLR", "Belarus", "Belarus"),
    ("BZ", "BLZ", "Belize", "Belize"),
    ("CA", "CAN", "Canada", "Canada"),
    ("CC", "CCK", "Cocos (Keeling) Islands", "Cocoseilanden (Keelingeilanden)"),
    ("CD", "COD", "Democratic Republic of the Congo", "Democratische Republiek Congo"),
    ("CF", "CAF", "Central African Republic", "Centraal-Afrikaanse Republiek"),
    ("CG", "COG", "Congo", "Congo"),
    ("CH", "CHE", "Switzerland", "Zwitserland"),
    ("CI", "CIV", "Côte d'Ivoire", "Ivoorkust"),
    ("CK", "COK", "Cook Islands", "Cookeilanden"),
    ("CL", "CHL", "Chile", "Chili"),
    ("CM", "CMR", "Cameroon", "Kameroen"),
    ("CN", "CHN", "China", "China"),
    ("CO", "COL", "Colombia", "Colombia"),
    ("CR", "CRI", "Costa Rica", "Costa Rica"),
    ("CU", "CUB", "Cuba", "Cuba"),
    ("CV", "CPV", "Cabo Verde", "Kaapverdië"),
    ("CW", "CUW", "Curaçao", "Curaçao"),
    ("CX", "CXR", "Christmas Island", "Christmaseiland"),
    ("CY", "CYP", "Cyprus", "Cyprus"),
    ("CZ", "CZE", "Czechia", "Tsjechië"),
    ("DE", "DEU", "Germany", "Duitsland"),
    ("DJ", "DJI", "Djibouti", "Djibouti"),
    ("DK", "DNK", "Denmark", "Denemarken"),
    ("DM", "DMA", "Dominica", "Dominica"),
    ("DO", "DOM", "Dominican Republic", "Dominicaanse Republiek"),
    ("DZ", "DZA", "Algeria", "Algerije"),
    ("EC", "ECU", "Ecuador", "Ecuador"),
    ("EE", "EST", "Estonia", "Estland"),
    ("EG", "EGY", "Egypt", "Egypte"),
    ("EH", "ESH", "Western Sahara", "Westelijke Sahara"),
    ("ER", "ERI", "Eritrea", "Eritrea"),
    ("ES", "ESP", "Spain", "Spanje"),
    ("ET", "ETH", "Ethiopia", "Ethiopië"),
    ("FI", "FIN", "Finland", "Finland"),
    ("FJ", "FJI", "Fiji", "Fiji"),
    ("FK", "FLK", "Falkland Islands", "Falklandeilanden"),
    ("FM", "FSM", "Micronesia", "Micronesia"),
    ("FO", "FRO", "Faroe Islands", "Faeröer"),
    ("FR", "FRA", "France", "Frankrijk"),
    ("GA", "GAB", "Gabon", "Gabon"),
    ("GB", "GBR", "United Kingdom", "Verenigd Koninkrijk"),
    ("GD", "GRD", "Grenada", "Grenada"),
    ("GE", "GEO", "Georgia", "Georgia"),
    ("GF", "GUF", "French Guiana", "Frans-Guyana"),
    ("GG", "GGY", "Guernsey", "Guernsey"),
    ("GH", "GHA", "Ghana", "Ghana"),
    ("GI", "GIB", "Gibraltar", "Gibraltar"),
    ("GL", "GRL", "Greenland", "Groenland"),
    ("GM", "GMB", "Gambia", "Gambia"),
    ("GN", "GIN", "Guinea", "Guinee"),
    ("GP", "GLP", "Guadeloupe", "Guadeloupe"),
    ("GQ", "GNQ", "Equatorial Guinea", "Equatoriaal-Guinea"),
    ("GR", "GRC", "Greece", "Griekenland"),
    ("GS", "SGS", "South Georgia and the South Sandwich Islands", "Zuid-Georgia en de Zuidelijke Sandwicheilanden"),
    ("GT", "GTM", "Guatemala", "Guatemala"),
    ("GU", "GUM", "Guam", "Guam"),
    ("GW", "GNB", "Guinea-Bissau", "Guinee-Bissau"),
    ("GY", "GUY", "Guyana", "Guyana"),
    ("HK", "HKG", "Hong Kong", "Hongkong"),
    ("HM", "HMD", "Heard Island and McDonald Islands", "Heardeiland en McDonaldeilanden"),
    ("HN", "HND", "Honduras", "Honduras"),
    ("HR", "HRV", "Croatia", "Kroatië"),
    ("HT", "HTI", "Haiti", "Haïti"),
    ("HU", "HUN", "Hungary", "Hongarije"),
    ("ID", "IDN", "Indonesia", "Indonesië"),
    ("IE", "IRL", "Ireland", "Ierland"),
    ("IL", "ISR", "Israel", "Israël"),
    ("IM", "IMN", "Isle of Man", "Eiland Man"),
    ("IN", "IND", "India", "India"),
    ("IO", "IOT", "British Indian Ocean Territory", "Brits Indische Oceaanterritorium"),
    ("IQ", "IRQ", "Iraq", "Irak"),
    ("IR", "IRN", "Iran", "Iran"),
    ("IS", "ISL", "Iceland", "IJsland"),
    ("IT", "ITA", "Italy", "Italië"),
    ("JE", "JEY", "Jersey", "Jersey"),
    ("JM", "JAM", "Jamaica", "Jamaica"),
    ("JO", "JOR", "Jordan", "Jordanië"),
    ("JP", "JPN", "Japan", "Japan"),
    ("KE", "KEN", "Kenya", "Kenia"),
    ("KG", "KGZ", "Kyrgyzstan", "Kirgizië"),
    ("KH", "KHM", "Cambodia", "Cambodja"),
    ("KI", "KIR", "Kiribati", "Kiribati"),
    ("KM", "COM", "Comoros", "Comoren"),
    ("KN", "KNA", "Saint Kitts and Nevis", "Saint Kitts en Nevis"),
    ("KP", "PRK", "North Korea", "Noord-Korea"),
    ("KR", "KOR", "South Korea", "Zuid-Korea"),
    ("KW", "KWT", "Kuwait", "Koeweit"),
    ("KY", "CYM", "Cayman Islands", "Kaaimaneilanden"),
    ("KZ", "KAZ", "Kazakhstan", "Kazachstan"),
    ("LA", "LAO", "Laos", "Laos"),
    ("LB", "LBN", "Lebanon", "Libanon"),
    ("LC", "LCA", "Saint Lucia", "Saint Lucia"),
    ("LI", "LIE", "Liechtenstein", "Liechtenstein"),
    ("LK", "LKA", "Sri Lanka", "Sri Lanka"),
    ("LR", "LBR", "Liberia", "Liberia"),
    ("LS", "LSO", "Lesotho", "Lesotho"),
    ("LT", "LTU", "Lithuania", "Litouwen"),
    ("LU", "LUX", "Luxembourg", "Luxemburg"),
    ("LV", "LVA", "Latvia", "Letland"),
    ("LY", "LBY", "Libya", "Libië"),
    ("MA", "MAR", "Morocco", "Marokko"),
    ("MC", "MCO", "Monaco", "Monaco"),
    ("MD", "MDA", "Moldova", "Moldavië"),
    ("ME", "MNE", "Montenegro", "Montenegro"),
    ("MF", "MAF", "Saint Martin (French part)", "Sint-Maarten (Frans deel)"),
    ("MG", "MDG", "Madagascar", "Madagaskar"),
    ("MH", "MHL", "Marshall Islands", "Marshalleilanden"),
    ("MK", "MKD", "North Macedonia", "Noord-Macedonië"),
    ("ML", "MLI", "Mali", "Mali"),
    ("MM", "MMR", "Myanmar", "Myanmar"),
    ("MN", "MNG", "Mongolia", "Mongolië"),
    ("MO", "MAC", "Macao", "Macau"),
    ("MP", "MNP", "Northern Mariana Islands", "Noordelijke Marianen"),
    ("MQ", "MTQ", "Martinique", "Martinique"),
    ("MR", "MRT", "Mauritania", "Mauritanië"),
    ("MS", "MSR", "Montserrat", "Montserrat"),
    ("MT", "MLT", "Malta", "Malta"),
    ("MU", "MUS", "Mauritius", "Mauritius"),
    ("MV", "MDV", "Maldives", "Maldiven"),
    ("MW", "MWI", "Malawi", "Malawi"),
    ("MX", "MEX", "Mexico", "Mexico"),
    ("MY", "MYS", "Malaysia", "Maleisië"),
    ("MZ", "MOZ", "Mozambique", "Mozambique"),
    ("NA", "NAM", "Namibia", "Namibië"),
    ("NC", "NCL", "New Caledonia", "Nieuw-Caledonië"),
    ("NE", "NER", "Niger", "Niger"),
    ("NF", "NFK", "Norfolk Island", "Norfolk"),
    ("NG", "NGA", "Nigeria", "Nigeria"),
    ("NI", "NIC", "Nicaragua", "Nicaragua"),
    ("NL", "NLD", "Netherlands", "Nederland"),
    ("NO", "NOR", "Norway", "Noorwegen"),
    ("NP", "NPL", "Nepal", "Nepal"),
    ("NR", "NRU", "Nauru", "Nauru"),
    ("NU", "NIU", "Niue", "Niue"),
    ("NZ", "NZL", "New Zealand", "Nieuw-Zeeland"),
    ("OM", "OMN", "Oman", "Oman"),
    ("PA", "PAN", "Panama", "Panama"),
    ("PE", "PER", "Peru", "Peru"),
    ("PF", "PYF", "French Polynesia", "Frans-Polynesië"),
    ("PG", "PNG", "Papua New Guinea", "Papoea-Nieuw-Guinea"),
    ("PH", "PHL", "Philippines", "Filipijnen"),
    ("PK", "PAK", "Pakistan", "Pakistan"),
    ("PL", "POL", "Poland", "Polen"),
    ("PM", "SPM", "Saint Pierre and Miquelon", "Saint-Pierre en Miquelon"),
    ("PN", "PCN", "Pitcairn", "Pitcairneilanden"),
    ("PR", "PRI", "Puerto Rico", "Puerto Rico"),
    ("PS", "PSE", "Palestine", "Palestina"),
    ("PT", "PRT", "Portugal", "Portugal"),
    ("PW", "PLW", "Palau", "Palau"),
    ("PY", "PRY", "Paraguay", "Paraguay"),
    ("QA", "QAT", "Qatar", "Qatar"),
    ("RE", "REU", "Réunion", "Réunion"),
    ("RO", "ROU", "Romania", "Roemenië"),
    ("RS", "SRB", "Serbia", "Servië"),
    ("RU", "RUS", "Russia", "Rusland"),
    ("RW", "RWA", "Rwanda", "Rwanda"),
    ("SA", "SAU", "Saudi Arabia", "Saoedi-Arabië"),
    ("SB", "SLB", "Solomon Islands", "Salomonseilanden"),
    ("SC", "SYC", "Seychelles", "Seychellen"),
    ("SD", "SDN", "Sudan", "Soedan"),
    ("SE", "SWE", "Sweden", "Zweden"),
    ("SG", "SGP", "Singapore", "Singapore"),
    ("SH", "SHN", "Saint Helena, Ascension and Tristan da Cunha", "Sint-Helena, Ascension en Tristan da Cunha"),
    ("SI", "SVN", "Slovenia", "Slovenië"),
    ("SJ", "SJM", "Svalbard and Jan Mayen", "Spitsbergen en Jan Mayen"),
    ("SK", "SVK", "Slovakia", "Slowakije"),
    ("SL", "SLE", "Sierra Leone", "Sierra Leone"),
    ("SM", "SMR", "San Marino", "San Marino"),
    ("SN", "SEN", "Senegal", "Senegal"),
    ("SO", "SOM", "Somalia", "Somalië"),
    ("SR", "SUR", "Suriname", "Suriname"),
    ("SS", "SSD", "South Sudan", "Zuid-Soedan"),
    ("ST", "STP", "Sao Tome and Principe", "Sao Tomé en Principe"),
    ("SV", "SLV", "El Salvador", "El Salvador"),
    ("SX", "SXM", "Sint Maarten (Dutch part)", "Sint Maarten (Nederlands deel)"),
    ("SY", "SYR", "Syria", "Syrië"),
    ("SZ", "SWZ", "Eswatini", "Eswatini"),
    ("TC", "TCA", "Turks and Caicos Islands", "Turks- en Caicoseilanden"),
    ("TD", "TCD", "Chad", "Tsjaad"),
    ("TF", "ATF", "French Southern Territories", "Franse Zuidelijke Gebieden"),
    ("TG", "TGO", "Togo", "Togo"),
    ("TH", "THA", "Thailand", "Thailand"),
    ("TJ", "TJK", "Tajikistan", "Tadzjikistan"),
    ("TK", "TKL", "Tokelau", "Tokelau"),
    ("TL", "TLS", "Timor-Leste", "Oost-Timor"),
    ("TM", "TKM", "Turkmenistan", "Turkmenistan"),
    ("TN", "TUN", "Tunisia", "Tunesië"),
    ("TO", "TON", "Tonga", "Tonga"),
    ("TR", "TUR", "Türkiye", "Turkije"),
    ("TT", "TTO", "Trinidad and Tobago", "Trinidad en Tobago"),
    ("TV", "TUV", "Tuvalu", "Tuvalu"),
    ("TW", "TWN", "Taiwan", "Taiwan"),
    ("TZ", "TZA", "Tanzania", "Tanzania"),
    ("UA", "UKR", "Ukraine", "Oekraïne"),
    ("UG", "UGA", "Uganda", "Oeganda"),
    ("UM", "UMI", "United States Minor Outlying Islands", "Kleine afgelegen eilanden van de Verenigde Staten"),
    ("US", "USA", "United States", "Verenigde Staten"),
    ("UY", "URY", "Uruguay", "Uruguay"),
    ("UZ", "UZB", "Uzbekistan", "Oezbekistan"),
    ("VA", "VAT", "Holy See", "Vaticaanstad"),
    ("VC", "VCT", "Saint Vincent and the Grenadines", "Saint Vincent en de Grenadines"),
    ("VE", "VEN", "Venezuela", "Venezuela"),
    ("VG", "VGB", "British Virgin Islands", "Britse Maagdeneilanden"),
    ("VI", "VIR", "U.S. Virgin Islands", "Amerikaanse Maagdeneilanden"),
    ("VN", "VNM", "Vietnam", "Vietnam"),
    ("VU", "VUT", "Vanuatu", "Vanuatu"),
    ("WF", "WLF", "Wallis and Futuna", "Wallis en Futuna"),
    ("WS", "WSM", "Samoa", "Samoa"),
    ("YE", "YEM", "Yemen", "Jemen"),
    ("YT", "MYT", "Mayotte", "Mayotte"),
    ("ZA", "ZAF", "South Africa", "Zuid-Afrika"),
    ("ZM", "ZMB", "Zambia", "Zambia"),
    ("ZW", "ZWE", "Zimbabwe", "Zimbabwe"),
];

/// ISO long and official names, and their Dutch forms, where they differ from
/// the short names above.
const ISO_NAMES: [(&str, &str); 196] = [
    ("Principality of Andorra", "AD"),
    ("Islamic Republic of Afghanistan", "AF"),
    ("Republic of Albania", "AL"),
    ("Republic of Armenia", "AM"),
    ("Republic of Angola", "AO"),
    ("Argentine Republic", "AR"),
    ("Republic of Austria", "AT"),
    ("Republic of Azerbaijan", "AZ"),
    ("Republic of Bosnia and Herzegovina", "BA"),
    ("People's Republic of Bangladesh", "BD"),
    ("Kingdom of Belgium", "BE"),
    ("Republic of Bulgaria", "BG"),
    ("Kingdom of Bahrain", "BH"),
    ("Republic of Burundi", "BI"),
    ("Republic of Benin", "BJ"),
    ("Brunei Darussalam", "BN"),
    ("Bolivia, Plurinational State of", "BO"),
    ("Plurinational State of Bolivia", "BO"),
    ("Bolivia, Multinationale Staat", "BO"),
    ("Federative Republic of Brazil", "BR"),
    ("Commonwealth of the Bahamas", "BS"),
    ("Kingdom of Bhutan", "BT"),
    ("Republic of Botswana", "BW"),
    ("Republic of Belarus", "BY"),
    ("Wit-Rusland", "BY"),
    ("Congo, The Democratic Republic of the", "CD"),
    ("Congo, Democratische Republiek", "CD"),
    ("Republic of the Congo", "CG"),
    ("Swiss Confederation", "CH"),
    ("Republic of Côte d'Ivoire", "CI"),
    ("Republic of Chile", "CL"),
    ("Republic of Cameroon", "CM"),
    ("People's Republic of China", "CN"),
    ("Republic of Colombia", "CO"),
    ("Republic of Costa Rica", "CR"),
    ("Republic of Cuba", "CU"),
    ("Republic of Cabo Verde", "CV"),
    ("Republic of Cyprus", "CY"),
    ("Czech Republic", "CZ"),
    ("Federal Republic of Germany", "DE"),
    ("Republic of Djibouti", "DJ"),
    ("Kingdom of Denmark", "DK"),
    ("Commonwealth of Dominica", "DM"),
    ("People's Democratic Republic of Algeria", "DZ"),
    ("Republic of Ecuador", "EC"),
    ("Republic of Estonia", "EE"),
    ("Arab Republic of Egypt", "EG"),
    ("the State of Eritrea", "ER"),
    ("Kingdom of Spain", "ES"),
    ("Federal Democratic Republic of Ethiopia", "ET"),
    ("Republic of Finland", "FI"),
    ("Republic of Fiji", "FJ"),
    ("Falkland Islands (Malvinas)", "FK"),
    ("Falklandeilanden (Malvinas)", "FK"),
    ("Micronesia, Federated States of", "FM"),
    ("Federated States of Micronesia", "FM"),
    ("French Republic", "FR"),
    ("Gabonese Republic", "GA"),
    ("United Kingdom of Great Britain and Northern Ireland", "GB"),
    ("Republic of Ghana", "GH"),
    ("Republic of the Gambia", "GM"),
    ("Republic of Guinea", "GN"),
    ("Republic of Equatorial Guinea", "GQ"),
    ("Hellenic Republic", "GR"),
    ("Republic of Guatemala", "GT"),
    ("Republic of Guinea-Bissau", "GW"),
    ("Republic of Guyana", "GY"),
    ("Hong Kong Special Administrative Region of China", "HK"),
    ("Republic of Honduras", "HN"),
    ("Republic of Croatia", "HR"),
    ("Republic of Haiti", "HT"),
    ("Republic of Indonesia", "ID"),
    ("State of Israel", "IL"),
    ("Republic of India", "IN"),
    ("Republic of Iraq", "IQ"),
    ("Iran, Islamic Republic of", "IR"),
    ("Islamic Republic of Iran", "IR"),
    ("Republic of Iceland", "IS"),
    ("Italian Republic", "IT"),
    ("Hashemite Kingdom of Jordan", "JO"),
    ("Republic of Kenya", "KE"),
    ("Kyrgyz Republic", "KG"),
    ("Kingdom of Cambodia", "KH"),
    ("Republic of Kiribati", "KI"),
    ("Union of the Comoros", "KM"),
    ("Korea, Democratic People's Republic of", "KP"),
    ("Democratic People's Republic of Korea", "KP"),
    ("Korea, Democratische Volksrepubliek", "KP"),
    ("Korea, Republic of", "KR"),
    ("Korea, Republiek", "KR"),
    ("State of Kuwait", "KW"),
    ("Republic of Kazakhstan", "KZ"),
    ("Lao People's Democratic Republic", "LA"),
    ("Laos Democratische Volksrepubliek", "LA"),
    ("Lebanese Republic", "LB"),
    ("Principality of Liechtenstein", "LI"),
    ("Democratic Socialist Republic of Sri Lanka", "LK"),
    ("Republic of Liberia", "LR"),
    ("Kingdom of Lesotho", "LS"),
    ("Republic of Lithuania", "LT"),
    ("Grand Duchy of Luxembourg", "LU"),
    ("Republic of Latvia", "LV"),
    ("Kingdom of Morocco", "MA"),
    ("Principality of Monaco", "MC"),
    ("Moldova, Republic of", "MD"),
    ("Republic of Moldova", "MD"),
    ("Moldavië, Republiek", "MD"),
    ("Republic of Madagascar", "MG"),
    ("Republic of the Marshall Islands", "MH"),
    ("Republic of North Macedonia", "MK"),
    ("Republic of Mali", "ML"),
    ("Republic of Myanmar", "MM"),
    ("Macao Special Administrative Region of China", "MO"),
    ("Commonwealth of the Northern Mariana Islands", "MP"),
    ("Islamic Republic of Mauritania", "MR"),
    ("Republic of Malta", "MT"),
    ("Republic of Mauritius", "MU"),
    ("Republic of Maldives", "MV"),
    ("Republic of Malawi", "MW"),
    ("United Mexican States", "MX"),
    ("Republic of Mozambique", "MZ"),
    ("Republic of Namibia", "NA"),
    ("Republic of the Niger", "NE"),
    ("Federal Republic of Nigeria", "NG"),
    ("Republic of Nicaragua", "NI"),
    ("Kingdom of the Netherlands", "NL"),
    ("Kingdom of Norway", "NO"),
    ("Federal Democratic Republic of Nepal", "NP"),
    ("Republic of Nauru", "NR"),
    ("Sultanate of Oman", "OM"),
    ("Republic of Panama", "PA"),
    ("Republic of Peru", "PE"),
    ("Independent State of Papua New Guinea", "PG"),
    ("Republic of the Philippines", "PH"),
    ("Islamic Republic of Pakistan", "PK"),
    ("Republic of Poland", "PL"),
    ("Palestine, State of", "PS"),
    ("the State of Palestine", "PS"),
    ("Palestina, Staat", "PS"),
    ("Portuguese Republic", "PT"),
    ("Republic of Palau", "PW"),
    ("Republic of Paraguay", "PY"),
    ("State of Qatar", "QA"),
    ("Republic of Serbia", "RS"),
    ("Russian Federation", "RU"),
    ("Rwandese Republic", "RW"),
    ("Kingdom of Saudi Arabia", "SA"),
    ("Republic of Seychelles", "SC"),
    ("Republic of the Sudan", "SD"),
    ("Kingdom of Sweden", "SE"),
    ("Republic of Singapore", "SG"),
    ("Republic of Slovenia", "SI"),
    ("Slovak Republic", "SK"),
    ("Republic of Sierra Leone", "SL"),
    ("Republic of San Marino", "SM"),
    ("Republic of Senegal", "SN"),
    ("Federal Republic of Somalia", "SO"),
    ("Republic of Suriname", "SR"),
    ("Republic of South Sudan", "SS"),
    ("Democratic Republic of Sao Tome and Principe", "ST"),
    ("Republic of El Salvador", "SV"),
    ("Syrian Arab Republic", "SY"),
    ("Kingdom of Eswatini", "SZ"),
    ("Republic of Chad", "TD"),
    ("Togolese Republic", "TG"),
    ("Kingdom of Thailand", "TH"),
    ("Republic of Tajikistan", "TJ"),
    ("Democratic Republic of Timor-Leste", "TL"),
    ("Republic of Tunisia", "TN"),
    ("Kingdom of Tonga", "TO"),
    ("Republic of Türkiye", "TR"),
    ("Republic of Trinidad and Tobago", "TT"),
    ("Taiwan, Province of China", "TW"),
    ("Tanzania, United Republic of", "TZ"),
    ("United Republic of Tanzania", "TZ"),
    ("Republic of Uganda", "UG"),
    ("United States of America", "US"),
    ("Eastern Republic of Uruguay", "UY"),
    ("Republic of Uzbekistan", "UZ"),
    ("Holy See (Vatican City State)", "VA"),
    ("Vaticaanstad, Staat", "VA"),
    ("Venezuela, Bolivarian Republic of", "VE"),
    ("Bolivarian Republic of Venezuela", "VE"),
    ("Venezuela, Bolivariaanse Republiek", "VE"),
    ("Virgin Islands, British", "VG"),
    ("Maagdeneilanden, Britse", "VG"),
    ("Virgin Islands, U.S.", "VI"),
    ("Virgin Islands of the United States", "VI"),
    ("Maagdeneilanden, Amerikaanse", "VI"),
    ("Socialist Republic of Viet Nam", "VN"),
    ("Republic of Vanuatu", "VU"),
    ("Independent State of Samoa", "WS"),
    ("Republic of Yemen", "YE"),
    ("Republic of South Africa", "ZA"),
    ("Republic of Zambia", "ZM"),
    ("Republic of Zimbabwe", "ZW"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::assert_refused;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    fn code(input: &str) -> &'static str {
        Country::parse(input).unwrap_or_else(|e| panic!("{input}: {e}")).as_str()
    }

    #[test]
    fn accepts_codes() {
        assert_eq!(code("NL"), "NL");
        assert_eq!(code(" nl "), "NL");
        assert_eq!(code("Nl"), "NL");
        assert_eq!(code("NLD"), "NL");
        assert_eq!(code("deu"), "DE");
        assert_eq!(code("GBR"), "GB");
        assert_eq!(code("UK"), "GB");
        assert_eq!(code("usa"), "US");
    }

    #[test]
    fn accepts_english_and_dutch_names() {
        for (name, expected) in [
            ("Netherlands", "NL"),
            ("the netherlands", "NL"),
            ("Nederland", "NL"),
            ("NEDERLAND", "NL"),
            ("Holland", "NL"),
            ("Kingdom of the Netherlands", "NL"),
            ("Belgium", "BE"),
            ("België", "BE"),
            ("Belgie", "BE"),
            ("Germany", "DE"),
            ("Duitsland", "DE"),
            ("Deutschland", "DE"),
            ("France", "FR"),
            ("Frankrijk", "FR"),
            ("United Kingdom", "GB"),
            ("Verenigd Koninkrijk", "GB"),
            ("Great Britain", "GB"),
            ("Luxembourg", "LU"),
            ("Luxemburg", "LU"),
            ("United States", "US"),
            ("Verenigde Staten", "US"),
            ("Curacao", "CW"),
            ("Curaçao", "CW"),
            ("Sint Maarten (Dutch part)", "SX"),
            ("guinea bissau", "GW"),
            ("Korea, Republic of", "KR"),
            ("South Korea", "KR"),
            ("Zuid-Korea", "KR"),
            ("Turkey", "TR"),
            ("Türkiye", "TR"),
            ("Turkije", "TR"),
            ("Côte d'Ivoire", "CI"),
            ("Cote d'Ivoire", "CI"),
            ("Åland Islands", "AX"),
        ] {
            assert_eq!(code(name), expected, "{name}");
        }
    }

    #[test]
    fn names() {
        for (code, en, nl) in [
            ("NL", "Netherlands", "Nederland"),
            ("BE", "Belgium", "België"),
            ("DE", "Germany", "Duitsland"),
            ("FR", "France", "Frankrijk"),
            ("GB", "United Kingdom", "Verenigd Koninkrijk"),
            ("LU", "Luxembourg", "Luxemburg"),
            ("CW", "Curaçao", "Curaçao"),
            ("US", "United States", "Verenigde Staten"),
        ] {
            let country = Country::parse(code).unwrap();
            assert_eq!(country.name(Lang::En), en);
            assert_eq!(country.name(Lang::Nl), nl);
        }
        assert_eq!(Country::parse("NL").unwrap().alpha3(), "NLD");
    }

    #[test]
    fn netherlands() {
        let nl = Country::netherlands();
        assert_eq!(nl.as_str(), "NL");
        assert_eq!(nl, Country::parse("Nederland").unwrap());
        assert_eq!(format!("{nl:?}"), "Country(\"NL\")");
        assert_eq!(nl.to_string(), "NL");
    }

    #[test]
    fn refusals() {
        for input in ["", "  "] {
            assert_refused(Country::parse(input), input, KIND, "empty");
        }
        // XX and ZZ are user-assigned; EU and EL are not ISO 3166-1 codes.
        for input in ["XX", "ZZ", "EU", "EL", "ZZZ", "N", "NLDX", "Atlantis", "Neder land x", "Korea", "N L"] {
            assert_refused(Country::parse(input), input, KIND, "unknown");
        }
        let long = "Nederland".repeat(10);
        assert_refused(Country::parse(&long), &long, KIND, "unknown");
    }

    #[test]
    fn table_is_complete_and_consistent() {
        assert_eq!(COUNTRIES.len(), 249);
        assert_eq!(Country::all().count(), 249);
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0), "sorted and unique by alpha-2");
        let alpha3: HashSet<_> = COUNTRIES.iter().map(|c| c.1).collect();
        assert_eq!(alpha3.len(), 249);
        for (a2, a3, en, nl) in COUNTRIES {
            assert!(a2.len() == 2 && a2.bytes().all(|b| b.is_ascii_uppercase()), "{a2}");
            assert!(a3.len() == 3 && a3.bytes().all(|b| b.is_ascii_uppercase()), "{a3}");
            assert!(!en.is_empty() && !nl.is_empty());
        }
        for (_, code) in ISO_NAMES.iter().chain(&EVERYDAY_NAMES) {
            assert!(COUNTRIES.iter().any(|c| c.0 == *code), "{code}");
        }
    }

    #[test]
    fn no_name_means_two_countries() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        let names = COUNTRIES.iter().flat_map(|c| [(c.2, c.0), (c.3, c.0)]).chain(ISO_NAMES).chain(EVERYDAY_NAMES);
        for (name, code) in names {
            let key: String = folded(name).collect();
            assert!(!key.is_empty());
            if let Some(other) = seen.insert(key, code) {
                assert_eq!(other, code, "{name} is ambiguous");
            }
        }
    }

    #[test]
    fn serde_round_trip() {
        let country = Country::parse("Nederland").unwrap();
        let json = serde_json::to_string(&country).unwrap();
        assert_eq!(json, "\"NL\"");
        assert_eq!(serde_json::from_str::<Country>(&json).unwrap(), country);
        assert_eq!(serde_json::from_str::<Country>("\"nld\"").unwrap(), country);
        assert!(serde_json::from_str::<Country>("\"XX\"").is_err());
    }

    proptest! {
        #[test]
        fn every_entry_parses_by_every_form(i in 0..COUNTRIES.len()) {
            let (a2, a3, en, nl) = COUNTRIES[i];
            let country = Country(i as u8);
            for form in [a2.to_string(), a2.to_lowercase(), a3.to_string(), a3.to_lowercase(), en.to_string(), en.to_uppercase(), nl.to_string(), nl.to_lowercase()] {
                prop_assert_eq!(Country::parse(&form).unwrap(), country);
            }
            prop_assert_eq!(Country::parse(country.as_str()).unwrap(), country);
            prop_assert_eq!(country.name(Lang::En), en);
            prop_assert_eq!(country.name(Lang::Nl), nl);
            let json = serde_json::to_string(&country).unwrap();
            prop_assert_eq!(serde_json::from_str::<Country>(&json).unwrap(), country);
        }

        #[test]
        fn never_panics(input in "\\PC{0,30}") {
            if let Ok(country) = Country::parse(&input) {
                prop_assert_eq!(Country::parse(country.as_str()).unwrap(), country);
            }
        }

        #[test]
        fn two_letter_codes_parse_or_are_unknown(input in "[a-zA-Z]{2}") {
            match Country::parse(&input) {
                Ok(country) => prop_assert!(country.as_str() == input.to_ascii_uppercase() || input.eq_ignore_ascii_case("uk")),
                Err(e) => prop_assert_eq!(e.rule, "unknown"),
            }
        }
    }
}
