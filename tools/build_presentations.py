"""Build the demo presentations (PPTX and PDF) in corpus/presentationer/.

The slide content lives in this file as data (DECKS). Running the script writes
every deck and, for most decks, a sidecar ``<file>.yml`` with the same keys as
the Markdown front matter. A few decks deliberately get no sidecar so that the
"needs curation" path of `kunskap ingest` has something to work on; those decks
carry a clear title on the first slide (and in the document metadata) and their
source URL on the last slide.

Output is deterministic: core-property and PDF creation dates are fixed, and
the PPTX zip is rewritten with fixed member timestamps, so two runs give the
same bytes.

Usage (from the repository root):

    .venv/bin/python tools/build_presentations.py            # build + verify
    .venv/bin/python tools/build_presentations.py --no-verify
    .venv/bin/python tools/build_presentations.py --verify-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
import zipfile
from pathlib import Path

from fpdf import FPDF
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.util import Inches, Pt

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "corpus" / "presentationer"

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

# Fixed timestamps so that every run produces identical bytes.
FIXED_DATETIME = dt.datetime(2024, 11, 1, 9, 0, 0)
FIXED_DATETIME_UTC = dt.datetime(2024, 11, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
ZIP_DATE_TIME = (2024, 11, 1, 9, 0, 0)

ACCENT = (0, 104, 94)  # dark green-teal
ACCENT_LIGHT = (224, 240, 236)
TEXT_DARK = (33, 37, 41)
TEXT_MUTED = (90, 98, 104)

SIDECAR_KEYS = (
    "id",
    "title",
    "organisation",
    "organisation_type",
    "county",
    "kind",
    "themes",
    "year",
    "summary",
    "source_url",
    "language",
)

# ---------------------------------------------------------------------------
# Slide content
#
# Each deck: file name stem (slug), format, whether it gets a sidecar, the
# metadata (sidecar keys), a title slide, content slides and the sources.
# Bullets are strings; a tuple (1, "text") is an indented sub-bullet.
# "notes" are speaker notes (PPTX only; PDFs have no notes).
# ---------------------------------------------------------------------------

DECKS: list[dict] = [
    # 1 ---------------------------------------------------------------------
    {
        "slug": "karlstad-elevborgarrad-klimatet",
        "format": "pptx",
        "sidecar": True,
        "meta": {
            "title": "Elevborgarråd för klimatet i Karlstad",
            "organisation": "Karlstads kommun",
            "organisation_type": "kommun",
            "county": "Värmlands län",
            "themes": ["rattvis-omstallning", "dialog-samverkan"],
            "year": 2023,
            "summary": "Barn och elever i Karlstad lämnade 967 idéer om hur kommunen kan "
            "minska utsläppen utan att någon kommer i kläm. Elever och kommunens "
            "miljöexperter gjorde om dem till 67 förslag som gick vidare till nämnder och bolag.",
            "source_url": "https://karlstad.se/forskola-skola-och-utbildning/grundskola/"
            "sa-arbetar-vi-i-grundskolan/elevborgarrad-for-klimatet",
        },
        "title_slide": {
            "title": "Elevborgarråd för klimatet",
            "subtitle": "När barn och unga får lägga skarpa förslag till kommunens politiker",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Karlstad är först i Sverige med ett elevborgarråd som handlar om klimatet",
                    "Barn och unga får leva med dagens beslut men saknar rösträtt",
                    "Förebilden är medborgarjuryn, där fler röster vägs in före beslut",
                    "Två frågor styrde arbetet:",
                    (1, "Hur minskar vi utsläppen i Karlstad utan att någon kommer i kläm?"),
                    (1, "Hur blir Karlstad en mer miljösmart kommun?"),
                ],
                "notes": "Rättvisefrågan fanns med från början – den står i själva "
                "frågeställningen. Vi ville att eleverna skulle tänka på vem som får bära "
                "kostnaderna för omställningen, inte bara på vad som minskar utsläppen mest.",
            },
            {
                "title": "Så gick arbetet till",
                "bullets": [
                    "Start med ett klimatlyft: utbildning för chefer och medarbetare i förskola och skola",
                    "Våren 2023 kunde alla barn och elever i de kommunala förskolorna och "
                    "grundskolorna skicka in idéer",
                    "967 förslag kom in",
                    "På en workshop för elevdemokrati sorterade och vässade elever förslagen "
                    "tillsammans med kommunens miljöexperter",
                    "Resultatet: 67 skarpa förslag till kommunstyrelsen via barn- och ungdomsnämnden",
                ],
                "notes": "Workshopen var avgörande. Det är där nästan tusen idéer blev ett "
                "hanterbart antal förslag som en nämnd faktiskt kan ta ställning till. "
                "Miljöexperterna hjälpte eleverna att se vad som är kommunens ansvar och "
                "vad som ligger hos andra.",
            },
            {
                "title": "Vad eleverna vill",
                "bullets": [
                    "Flest förslag rör transporter – det ska löna sig att välja annat än bilen",
                    "Renare luft, mer biologisk mångfald, parker och grönområden",
                    "Appar och utmaningar som gör det lättare att välja rätt",
                    "Exempel på bredden:",
                    (1, "gratis kollektivtrafik och klimatsmart mat"),
                    (1, "klädbytardagar och odling på den egna skolan"),
                    (1, "solceller på kommunens byggnader"),
                ],
                "notes": "Det som slog oss var hur mycket av förslagen som handlar om "
                "vardagen: resan till skolan, maten i matsalen och skolgården.",
            },
            {
                "title": "Resultat hittills",
                "bullets": [
                    "Hösten 2023 skickade kommunstyrelsen förslagen vidare till berörda nämnder "
                    "och bolag för utredning och beslut",
                    "Förslag som kommunen inte rår över gick till andra, till exempel Region "
                    "Värmland och Länsstyrelsen",
                    "Barn- och ungdomsförvaltningen fick 15 av förslagen – 12 av dem ska genomföras",
                    "Bland besluten: en matsvinnskamp och miljönytta i slöjden",
                ],
                "notes": "Vi redovisar det som är beslutat. Vilka effekter förslagen får på "
                "utsläppen vet vi ännu inte – det får vi återkomma till när de har "
                "genomförts.",
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Ställ rättvisefrågan direkt i uppdraget, då blir den en del av förslagen",
                    "Ge idéerna en tydlig väg till beslut – annars blir det en enkät och inget mer",
                    "Låt sakkunniga stötta eleverna utan att ta över",
                    "Skicka vidare det kommunen inte rår över, i stället för att lägga det åt sidan",
                    "Berätta för eleverna vad som hände med deras förslag",
                ],
                "notes": "Den viktigaste lärdomen för oss är att delaktighet måste ha en "
                "fortsättning. Eleverna behöver se att förslagen behandlas på samma sätt "
                "som andra förslag till kommunen.",
            },
            {
                "title": "Nästa steg och frågor till nätverket",
                "bullets": [
                    "Nämnder och bolag utreder och fattar beslut om sina förslag",
                    "Hur tar ni in barns och ungas röster i klimatarbetet?",
                    "Hur kopplar ni delaktighet till en rättvis omställning?",
                    "Vill någon pröva samma arbetssätt – hör gärna av er",
                ],
            },
        ],
        "sources": [
            "https://karlstad.se/forskola-skola-och-utbildning/grundskola/sa-arbetar-vi-i-grundskolan/elevborgarrad-for-klimatet",
            "https://karlstad.se/nyheter/forskola-skola-och-utbildning/grundskola/2024-02-07-nu-blir-flera-elevborgarradsforslag-verklighet",
            "https://skola.karlstad.se/elevborgarrad/",
        ],
    },
    # 2 ---------------------------------------------------------------------
    {
        "slug": "linkoping-cykelstaden",
        "format": "pptx",
        "sidecar": True,
        "meta": {
            "title": "Cykelstaden Linköping – satsningar och cyklisternas omdöme",
            "organisation": "Linköpings kommun",
            "organisation_type": "kommun",
            "county": "Östergötlands län",
            "themes": ["cykel", "transporteffektivt-samhalle"],
            "summary": "Linköping bygger ut cykelinfrastrukturen och använder cyklisternas "
            "synpunkter för att prioritera. I Cyklistvelometern 2024 hamnade kommunen "
            "för andra gången i rad först bland de stora kommunerna.",
            "source_url": "https://www.linkoping.se/nyheter/nyheter-arkiv/"
            "linkoping-sveriges-basta-cykelstad-om-cyklisterna-far-valja/",
        },
        "title_slide": {
            "title": "Cykelstaden Linköping",
            "subtitle": "Så använder vi cyklisternas omdöme för att bygga bättre",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Ungefär var tredje resa i Linköping görs med cykel",
                    "Cykelplanen 2008–2028: Linköping är redan en av Europas bästa cykelstäder men vill bli bäst",
                    "Goda förutsättningar – men andelen cyklister behålls och ökar bara med ständig utveckling",
                    "Cykeln har en central roll i kommunens trafikplanering",
                ],
                "notes": "Utgångsläget är gott, men det är lätt att tappa. Med en växande "
                "stad måste cykelnätet byggas ut i samma takt som allt annat.",
            },
            {
                "title": "Vad vi har gjort",
                "bullets": [
                    "Cykellänkar där cyklister och gående hålls åtskilda",
                    (1, "de första länkarna gick till Ryd och Skäggetorp"),
                    "Cirka 52,5 miljoner kronor till ny cykelinfrastruktur under 2023",
                    "Vi uppmanar invånarna att svara på Cykelfrämjandets enkät Cyklistvelometern",
                    "Cyklisternas synpunkter blir ett underlag när vi prioriterar",
                ],
                "notes": "Önskemålet om separerade cykelbanor kom just från cyklisternas "
                "egna svar i en tidigare omgång av enkäten. Det är ett bra exempel på hur "
                "återkopplingen faktiskt påverkar vad vi bygger.",
            },
            {
                "title": "Resultat",
                "bullets": [
                    "Cyklistvelometern 2024: Linköping först bland de stora kommunerna",
                    "Andra gången i rad som kommunen hamnar i topp i den kategorin",
                    "Enkäten samlade 28 025 svar om 119 kommuner sommaren 2024",
                    "Kommunen ser placeringen som ett tecken på att invånarna märker och uppskattar satsningarna",
                ],
                "notes": "Cyklistvelometern är en öppen webbenkät, så de som svarar är "
                "ofta vana cyklister. Vi ser den som en värdefull signal, inte som en "
                "mätning av hela befolkningens resvanor.",
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Fråga cyklisterna – och visa att svaren används",
                    "Separera gång och cykel där flödena är stora",
                    "Långsiktig plan plus återkommande investeringar ger resultat över tid",
                    "Få svar ger svagt underlag: lägg kraft på att fler deltar",
                ],
                "notes": "När enkäten gjordes 2018 svarade bara 76 linköpingsbor. Att sprida "
                "enkäten är därför en del av arbetet.",
            },
            {
                "title": "Nästa steg och frågor till nätverket",
                "bullets": [
                    "Målet är att ännu fler linköpingsbor väljer cykeln",
                    "Cykelplanen pekar mot 2028 – vad behöver nästa plan innehålla?",
                    "Hur följer ni upp cyklisternas upplevelse i er kommun?",
                    "Hur väger ni cykelsatsningar mot andra trafikslag i budgeten?",
                ],
            },
        ],
        "sources": [
            "https://www.linkoping.se/nyheter/nyheter-arkiv/linkoping-sveriges-basta-cykelstad-om-cyklisterna-far-valja/",
            "https://www.linkoping.se/stadsplanering-och-trafik/oversiktsplanering/oversiktsplaner---antagna/trafikplaner/cykelplan-2008--2028/",
            "https://www.linkoping.se/nyheter/nyheter/linkoping-vill-hora-asikter-om-cykling/",
        ],
    },
    # 3 ---------------------------------------------------------------------
    {
        "slug": "region-skane-klimatvaxling-tjansteresor",
        "format": "pptx",
        "sidecar": True,
        "meta": {
            "title": "Klimatväxling av tjänsteresor i Region Skåne",
            "organisation": "Region Skåne",
            "organisation_type": "region",
            "county": "Skåne län",
            "themes": ["tjansteresor", "styrning"],
            "year": 2013,
            "summary": "Sedan 2013 tar Region Skåne ut en intern klimatavgift på tjänsteresor "
            "med flyg och privat bil. Pengarna går till distansmöten, cyklar och "
            "kollektivtrafik, och bilresorna i tjänsten har minskat.",
            "source_url": "https://www.trivector.se/nyhet/minskade-reskostnader-och-battre-klimat/",
        },
        "title_slide": {
            "title": "Klimatväxling av tjänsteresor",
            "subtitle": "En intern avgift som gör det lättare att välja rätt resa",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Flyg och vägtrafik hör till Sveriges största klimatutmaningar – också när vi reser i tjänsten",
                    "Arbetet började med en grön resplan – en genomgång av hur vi reser i tjänsten",
                    "Idén: i stället för att kompensera utanför organisationen används "
                    "pengarna internt, där de gör det enklare att resa hållbart",
                ],
                "notes": "Klimatväxling kallas ibland intern klimatkompensation. Skillnaden "
                "mot vanlig kompensation är att pengarna stannar i organisationen och "
                "används för att ändra våra egna resvanor.",
            },
            {
                "title": "Så fungerar modellen",
                "bullets": [
                    "Infördes i januari 2013",
                    "En avgift läggs på varje tjänsteresa med flyg eller privat bil:",
                    (1, "2 kronor per mil med privat bil"),
                    (1, "250 kronor per enkel inrikes flygresa"),
                    (1, "500 kronor inom Europa, 1 000 kronor utanför Europa"),
                    "Avgifterna samlas på ett centralt konto",
                ],
                "notes": "Avgiften tas ut per resa och per mil. Det gör modellen lätt att förklara "
                "och lätt för verksamheterna att räkna på.",
            },
            {
                "title": "Vad pengarna används till",
                "bullets": [
                    "Teknik för distansmöten",
                    "Bättre cykelställ och poolcyklar",
                    "Laddade betalkort för kollektivtrafik i verksamheternas receptioner",
                    "Informationskampanjer om hållbart resande",
                ],
                "notes": "Poängen är att pengarna syns i vardagen – en fungerande "
                "mötesutrustning eller ett kort för bussen i receptionen.",
            },
            {
                "title": "Resultat",
                "bullets": [
                    "Tjänsteresorna med privat bil minskade med cirka 10 procent från 2012 till "
                    "2013, och har fortsatt att minska",
                    "Inrikes flygresor har också minskat",
                    "Tågets andel av inrikesresorna till och från Stockholm ökade från 31 procent "
                    "2012 till över 40 procent 2014",
                ],
                "notes": "Vi är försiktiga med att tillskriva klimatväxlingen hela "
                "förändringen. Tågresandet kan också ha påverkats av annat, till exempel "
                "den allmänna debatten om tåg och nattåg under samma period.",
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Börja med en kartläggning av resandet – den ger underlag och legitimitet",
                    "Håll avgifterna enkla och begripliga",
                    "Låt intäkterna gå till synliga alternativ, inte till en anonym pott",
                    "Följ upp resandet varje år och var öppen med osäkerheterna",
                ],
            },
            {
                "title": "Nästa steg: ett gemensamt verktyg för Skåne",
                "bullets": [
                    "Projektet Klimatväxling i Skåne drivs av Region Skåne tillsammans med fem "
                    "andra skånska aktörer",
                    "Målet är ett gemensamt klimatväxlingsverktyg som fler kan använda",
                    "Det ska sänka tröskeln för kommuner och företag som vill komma igång",
                    "Fråga till nätverket: vilka modeller använder ni, och vad har de gett?",
                ],
                "notes": "Flera skånska kommuner har redan egna modeller. Ett gemensamt "
                "verktyg gör att ingen behöver uppfinna hjulet på nytt.",
            },
        ],
        "sources": [
            "https://www.trivector.se/nyhet/minskade-reskostnader-och-battre-klimat/",
            "https://utveckling.skane.se/tema/klimatvaxling-i-skane/",
            "https://klimatkommunerna.se/medlemmar/region-skane/",
        ],
    },
    # 4 ---------------------------------------------------------------------
    {
        "slug": "orebro-tamarinden-energidelning",
        "format": "pptx",
        "sidecar": True,
        "meta": {
            "title": "Tamarinden i Örebro – en stadsdel som delar energi",
            "organisation": "Örebro kommun",
            "organisation_type": "kommun",
            "county": "Örebro län",
            "themes": ["fornybar-energi", "energieffektivisering"],
            "year": 2019,
            "summary": "I stadsdelen Tamarinden ska husen producera, lagra och dela el över "
            "fastighetsgränserna. Lagen förbjöd det när projektet startade 2019; efter "
            "ett förändringsarbete blev delningen tillåten.",
            "source_url": "https://www.ri.se/sv/berattelser/"
            "sa-blev-energidelning-mojlig-for-futuristiska-stadsdelen-tamarinden",
        },
        "title_slide": {
            "title": "Tamarinden – en stadsdel som delar energi",
            "subtitle": "Från försök i allmännyttan till energigemenskap över fastighetsgränser",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "ÖrebroBostäder har under flera år testat att spara, lagra, producera och dela "
                    "energi i sina egna hus",
                    "Frågan var om det går att skala upp till en hel stadsdel med flera "
                    "fastighetsägare",
                    "Tamarinden planerades från början som en plats för nya lösningar",
                    "Det som fungerar ska på sikt kunna användas i hela Örebro",
                ],
                "notes": "Kommunen och det allmännyttiga bostadsbolaget hade redan erfarenhet "
                "från enskilda kvarter. Det nya var att gå över fastighetsgränserna.",
            },
            {
                "title": "Vad stadsdelen ska innehålla",
                "bullets": [
                    "Solceller på taken",
                    "Delning av energi mellan fastigheterna – en energigemenskap",
                    "Möjlighet att leverera stödtjänster till elnätet",
                    "Bilpooler med elbilar",
                    "Gröna innergårdar som gynnar den biologiska mångfalden",
                ],
                "notes": "Energidelningen blev tidigt det som alla pratade om, men helheten "
                "är viktig: sol, lagring, delning och mobilitet hänger ihop.",
            },
            {
                "title": "Hindret: lagen",
                "bullets": [
                    "När projektet startade 2019 var det förbjudet att dela el över "
                    "fastighetsgränser för den som inte äger elnätet",
                    "Kommunen valde att driva frågan i stället för att backa",
                    "Efter tre års förändringsarbete blev delning över fastighetsgränser tillåten",
                    "Frågan om vem som får bygga och äga nätet mellan husen har samtidigt "
                    "varit omstridd med nätbolaget",
                ],
                "notes": "Det var en risk att starta innan reglerna var på plats. Vår "
                "bedömning var att fördelarna var så stora att det var värt att försöka "
                "påverka regelverket.",
            },
            {
                "title": "Resultat",
                "bullets": [
                    "Regelverket ändrades så att energigemenskaper över fastighetsgränser blev möjliga",
                    "Tamarinden har blivit ett studieobjekt – fastighetsbolag och myndigheter "
                    "kommer till Örebro för att lära",
                    "Arbetssättet från ÖrebroBostäders hus prövas nu i en stadsdel med flera fastighetsägare",
                ],
                "notes": "Effekterna på energianvändning och effekttoppar får vi redovisa när "
                "stadsdelen är byggd och har varit i drift en tid.",
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Pröva i liten skala först – i eget bestånd",
                    "Ett hinder i lagen behöver inte vara slutet; det kan vara en uppgift",
                    "Samla byggherrar, energibolag och forskare tidigt",
                    "Räkna med att frågor om nätägande tar tid",
                ],
            },
            {
                "title": "Frågor till nätverket",
                "bullets": [
                    "Finns det energigemenskaper på gång i era kommuner?",
                    "Hur har ni hanterat dialogen med nätägaren?",
                    "Vilka krav kan kommunen ställa vid markanvisning för att möjliggöra delning?",
                ],
            },
        ],
        "sources": [
            "https://www.ri.se/sv/berattelser/sa-blev-energidelning-mojlig-for-futuristiska-stadsdelen-tamarinden",
            "https://www.elinstallatoren.se/2022/11/eon-satter-kappar-i-hjulen-for-framtidens-bostadsomrade/",
            "https://www.orebronyheter.com/khashayar-farmanbar-pa-besok-hos-obo/",
        ],
    },
    # 5 ---------------------------------------------------------------------
    {
        "slug": "skelleftea-hallbart-trabyggande",
        "id": "skelleftea-hallbart-trabyggande-presentation",  # the case study has the slug as id
        "format": "pptx",
        "sidecar": True,
        "meta": {
            "title": "Hållbart träbyggande i Skellefteå",
            "organisation": "Skellefteå kommun",
            "organisation_type": "kommun",
            "county": "Västerbottens län",
            "themes": ["byggande", "dialog-samverkan"],
            "summary": "Skellefteå växer snabbt och styr byggandet mot trä med en "
            "träbyggnadsstrategi. Vid Klimatkommunernas digitala besök 2021 berättade "
            "kommunen om politiska beslut, samverkan med näringslivet och dialog med invånarna.",
            "source_url": "https://klimatkommunerna.se/natverkstraff-med-virtuellt-besok-i-skelleftea/",
        },
        "title_slide": {
            "title": "Hållbart träbyggande i Skellefteå",
            "subtitle": "Från Klimatkommunernas digitala besök i Skellefteå, 28 april 2021",
        },
        "slides": [
            {
                "title": "Bakgrund: en kommun som växer snabbt",
                "bullets": [
                    "Batterifabriken ger många nya jobb och Skellefteå växer",
                    "Målet är 5 000 nya bostäder fram till 2025",
                    "Tillväxten ska ske med hållbarheten i fokus",
                    "Nära till skog och en lång tradition av att bygga i trä",
                ],
                "notes": "När en kommun växer så här snabbt avgörs klimatpåverkan för lång "
                "tid framåt av vad vi bygger nu och vilket material vi väljer.",
            },
            {
                "title": "Politiska beslut som styr",
                "bullets": [
                    "Träbyggnadsstrategin är ett av de viktigaste styrdokumenten",
                    (1, "arbetet med strategin började 2004 och den beslutades 2014"),
                    "Ett hållbarhetsprogram fungerar som paraply – nu ligger fokus på genomförande",
                    "Hållbarhet står i centrum i samarbetet med de kommunala bolagen",
                ],
                "notes": "Strategin har funnits länge, vilket har gjort att både förvaltning "
                "och marknad vet vad kommunen vill.",
            },
            {
                "title": "Mer än byggnader",
                "bullets": [
                    "Planering för Norrbotniabanan",
                    "Ett helt nytt kollektivtrafiksystem – och stöd till invånarna att lära "
                    "sig åka buss på ett nytt sätt",
                    "Flygplatsen ska kunna erbjuda flyg med lägre klimatpåverkan",
                    "Kommunens egna inrikes flygresor klimatkompenseras",
                ],
            },
            {
                "title": "Resultat",
                "bullets": [
                    "Aktörer som vill etablera sig vill också vara med i hållbarhetsarbetet",
                    "Kommunens krav skapar efterfrågan i hela kommunen",
                    "Sara kulturhus – en av världens högsta träbyggnader – står i Skellefteå",
                    "Många företag och invånare är engagerade och stolta",
                ],
                "notes": "Det viktigaste resultatet är kanske att träbyggande har blivit "
                "något självklart här, både för kommunen och för dem som bygger.",
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Modiga politiker som vågar satsa långsiktigt",
                    "Dialog och gemensamma visioner får med invånare och företag",
                    "Samarbete med träindustri och forskning har varit en nyckel",
                    "En strategi gör mest nytta när den omsätts i konkreta projekt",
                ],
                "notes": "Vi har tidigt haft en dröm om att norrländska städer kan gå före "
                "i miljöarbetet, med god tillgång till förnybar energi och trä.",
            },
            {
                "title": "Frågor till nätverket",
                "bullets": [
                    "Hur styr ni materialval i kommunens egna byggprojekt?",
                    "Hur använder ni markanvisning för att främja träbyggande?",
                    "Vilka erfarenheter har ni av samarbete med lokal industri?",
                ],
            },
        ],
        "sources": [
            "https://klimatkommunerna.se/natverkstraff-med-virtuellt-besok-i-skelleftea/",
            "https://www.svenskttra.se/om-oss/aktuellt/2022/6/skellefteas-trastrategi-en-uppmarksammad-framgang/",
            "https://www.sarakulturhus.se/hallbarhet/",
        ],
    },
    # 6 ---------------------------------------------------------------------
    {
        "slug": "sodertalje-hallbara-maltider",
        "format": "pptx",
        "sidecar": True,
        "meta": {
            "title": "Hållbara offentliga måltider i Södertälje",
            "organisation": "Södertälje kommun",
            "organisation_type": "kommun",
            "county": "Stockholms län",
            "themes": ["mat", "livsmedelsforsorjning", "upphandling"],
            "year": 2010,
            "summary": "Sedan 2010 följer Södertäljes kök en enig livsmedels- och "
            "måltidspolicy byggd på Diet for a Green Planet. Kockarna gör egna matsedlar, "
            "svinnet har minskat och utrymmet har gått till mer hållbara råvaror.",
            "source_url": "https://www.sodertalje.se/miljo-och-halsa/hallbara-sodertalje/"
            "ekologisk-hallbarhet/hallbara-maltider/",
        },
        "title_slide": {
            "title": "Hållbara måltider i Södertälje",
            "subtitle": "Mindre kött, mer lokalt och kockar som äger sina matsedlar",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Kostenheten har runt 90 kök i förskola, skola, gymnasium, äldreomsorg "
                    "och stadshusrestaurangen",
                    "2010 antogs en livsmedels- och måltidspolicy som alla partier stod bakom",
                    "Policyn bygger på konceptet Diet for a Green Planet, framtaget i "
                    "EU-projektet BERAS Implementation",
                ],
                "notes": "Att alla partier stod bakom policyn är en styrka. Sedan 2010 arbetar "
                "alla kök utifrån den.",
            },
            {
                "title": "Kriterierna",
                "bullets": [
                    "God och hälsosam mat",
                    "Ekologiskt producerat",
                    "Mindre kött, mer grönsaker, baljväxter och fullkorn",
                    "Närproducerat och säsongsanpassat",
                ],
                "notes": "Kriterierna väger lika. Det är kombinationen som gör skillnad, "
                "inte en enskild åtgärd.",
            },
            {
                "title": "Vad vi gör i köken",
                "bullets": [
                    "Inga centrala matsedlar – kockarna komponerar sina egna",
                    "Stöd till köken: inköpsfrekvenser och volymmål för råvaror vi vill öka "
                    "respektive minska",
                    "Mål i arbetsplanen: mindre kött och mer ekologiskt",
                    "I skolan finns alltid salladsbuffé, soppa, en vegetarisk varmrätt och "
                    "en kött- eller fiskrätt",
                    "Minst en dag i veckan är helt vegetarisk",
                ],
                "notes": "Att lämna matsedeln till kockarna var ett medvetet val. Det har "
                "gett kreativitet och ett större ansvar för hela kedjan, från inköp till svinn.",
            },
            {
                "title": "Lokala råvaror genom dialog",
                "bullets": [
                    "Dialog med producenter i närområdet om kommunens behov och deras möjligheter",
                    "Det har gett avtal, samarbeten och nya produkter",
                    "På tallriken: lokala grönsaker, mjölk från ett lokalt mejeri och vilt från trakten",
                    "Upphandlingsavtalet har en klausul om att köpa tre procent lokalt genom "
                    "direktupphandling",
                ],
                "notes": "Det här stärker också den lokala livsmedelsproduktionen, vilket "
                "har betydelse för hur robust försörjningen är.",
            },
            {
                "title": "Resultat",
                "bullets": [
                    "När kockarna gör egna matsedlar har matsvinnet minskat",
                    "Det minskade svinnet har gett ekonomiskt utrymme för mer hållbara råvaror",
                    "Arbetet drivs vidare genom ett ständigt lärande bland medarbetarna",
                ],
            },
            {
                "title": "Lärdomar och frågor till nätverket",
                "bullets": [
                    "En enig policy ger långsiktighet",
                    "Minskat svinn kan finansiera bättre råvaror",
                    "Förändra stegvis och i dialog med elever, lärare och föräldrar",
                    "Hur ställer ni krav på lokalt producerat i upphandlingen?",
                    "Hur följer ni upp klimatpåverkan från måltiderna?",
                ],
            },
        ],
        "sources": [
            "https://www.sodertalje.se/miljo-och-halsa/hallbara-sodertalje/ekologisk-hallbarhet/hallbara-maltider/",
            "https://www.landsbygdsnatverket.se/mattanken/varverksamhet/nyheternyhetsbrevkalender/nyheter/nyhetsarkiv/spjutspetsmaltiderforframtidagenerationershalsaochmiljo.5.7a9be85516751a7325392074.html",
            "https://dietforagreenplanet.se/en/conversion/how-we-work/",
        ],
    },
    # 7 ---------------------------------------------------------------------
    {
        "slug": "lund-lundamats-hallbart-resande",
        "format": "pptx",
        "sidecar": True,
        "meta": {
            "title": "LundaMaTs – Lunds strategi för ett hållbart transportsystem",
            "organisation": "Lunds kommun",
            "organisation_type": "kommun",
            "county": "Skåne län",
            "themes": ["transporteffektivt-samhalle", "kollektivtrafik", "cykel"],
            "year": 1999,
            "summary": "Sedan 1999 arbetar Lund efter strategin LundaMaTs, med eget "
            "mobilitetskontor, utbyggd cykelinfrastruktur och en ny spårväg. Biltrafiken "
            "har minskat trots att staden vuxit.",
            "source_url": "https://skr.se/skr/tjanster/larandeexempel/allalarandeexempel/"
            "strategiforhallbarttransportsystemgorattlunduppfyllersinaklimatmal.68264.html",
        },
        "title_slide": {
            "title": "LundaMaTs",
            "subtitle": "Mer än 20 år med en strategi för hållbart resande",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Transporterna står för en stor del av utsläppen och måste ställas om",
                    "Politisk vilja till hållbar utveckling har funnits i Lund sedan 1970-talet",
                    "1999 beslutade kommunen om en strategi för ett hållbart transportsystem",
                    "Samtidigt inrättades ett mobilitetskontor",
                ],
                "notes": "MaTs står för miljöanpassat transportsystem. Strategin har "
                "reviderats två gånger sedan starten.",
            },
            {
                "title": "Strategin har utvecklats",
                "bullets": [
                    "LundaMaTs I: cykel, verksamheters transporter, miljöanpassad biltrafik "
                    "och kollektivtrafik",
                    "LundaMaTs II (2006): ekonomisk och social hållbarhet läggs till",
                    "LundaMaTs III (2014): människan i centrum, inte fordonen",
                    "Sex fokusområden, bland annat byarnas utveckling, levande stadskärna och "
                    "regional arbetspendling",
                ],
                "notes": "Den tredje versionen kom när staden bestämt sig för att växa inåt "
                "och bli tätare. Det ställer andra krav på hur ytorna används.",
            },
            {
                "title": "Vad vi har gjort",
                "bullets": [
                    "Mobilitetskontor som driver arbetet med hållbart resande",
                    "Utbyggd cykelinfrastruktur",
                    "En spårvägslinje har öppnats",
                    "Projekt för hållbar mobilitet startas i de flesta av kommunens verksamheter",
                    "Även aktörer utanför kommunen tar egna initiativ",
                ],
            },
            {
                "title": "Resultat",
                "bullets": [
                    "Den tidigare ständigt ökande biltrafiken har vänt nedåt – trots att "
                    "staden vuxit kraftigt",
                    "Flera klimatmål har nåtts, bland annat minskade utsläpp och minskad bilism",
                    "Resandet med kollektivtrafik har ökat",
                ],
                "notes": "Det viktigaste resultatet: biltrafiken minskar trots att staden växer. "
                "Sambandet mellan fler invånare och mer biltrafik går att bryta.",
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Politisk enighet är den främsta framgångsfaktorn",
                    (1, "strategin har hållit trots flera skiften i politisk majoritet"),
                    "En egen organisation för mobilitet ger kontinuitet",
                    "Uppdatera strategin när förutsättningarna ändras",
                    "Planering och trafik måste hänga ihop – en tät stad kräver andra lösningar",
                ],
                "notes": "Ett långsiktigt arbete som överlever valrörelser kräver att "
                "partierna är överens om grunderna, även om de tycker olika om detaljer.",
            },
            {
                "title": "Frågor till nätverket",
                "bullets": [
                    "Hur skapar ni politisk enighet kring trafikfrågor?",
                    "Har ni en funktion som motsvarar ett mobilitetskontor?",
                    "Hur mäter ni transporteffektivitet i er kommun?",
                ],
            },
        ],
        "sources": [
            "https://skr.se/skr/tjanster/larandeexempel/allalarandeexempel/strategiforhallbarttransportsystemgorattlunduppfyllersinaklimatmal.68264.html",
            "https://lund.se/trafik--stadsplanering/hallbart-resande/",
            "https://sparvaglund.se/stadsutveckling/intervjuer-om-stadsutveckling/lund-vilar-pa-en-gron-grund/",
        ],
    },
    # 8 ---------------------------------------------------------------------
    # No sidecar on purpose: exercises the "needs curation" path.
    {
        "slug": "malmo-energifattigdom",
        "format": "pptx",
        "sidecar": False,
        "meta": {
            "title": "Energifattigdom i Malmö – från rådgivning till kartläggning",
            "organisation": "Malmö stad",
            "organisation_type": "kommun",
            "county": "Skåne län",
            "themes": ["rattvis-omstallning", "energieffektivisering"],
            "summary": "",
            "source_url": "https://energikontorsyd.se/a/radgivning-i-rosengard-och-forskningsprojekt-kring-energifattigdom",
        },
        "title_slide": {
            "title": "Energifattigdom i Malmö – från rådgivning till kartläggning",
            "subtitle": "Malmö stad, energi- och klimatrådgivningen",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Energi- och klimatrådgivningen i Malmö består av tre rådgivare",
                    "I flera år låg fokus på stadens över tusen bostadsrättsföreningar",
                    "Där har rådgivningen gjort mest nytta – nu hör föreningarna själva av sig",
                    "Under energipriskrisen kom många oroliga samtal från malmöbor",
                ],
                "notes": "De många samtalen under energipriskrisen var en viktig anledning till "
                "att staden gick in i ett forskningsprojekt om energifattigdom.",
            },
            {
                "title": "Vad är energifattigdom?",
                "bullets": [
                    "EU-kommissionen: hushåll som saknar ekonomiska resurser för grundläggande energitjänster",
                    "I Malmö handlar det främst om otillräcklig uppvärmning",
                    "Orsaker: höga energikostnader eller kalla och dragiga lägenheter",
                    "En fråga om rättvisa i omställningen – inte bara om teknik",
                ],
            },
            {
                "title": "Vad vi gör",
                "bullets": [
                    "Rådgivning på flera språk för att nå nya grupper",
                    "Rådgivarna sitter ute på bibliotek, bland annat i Rosengård",
                    "Malmö stad deltar i projektet Mapping energy poverty in the City of Malmö",
                    (1, "finansierat av EU-kommissionens Energy Poverty Advisory Hub"),
                    (1, "tillsammans med BID Malmö och Lunds universitet"),
                ],
                "notes": "Tanken med biblioteken och språken är att nå grupper som inte själva "
                "hör av sig till rådgivningen.",
            },
            {
                "title": "Läget i arbetet",
                "bullets": [
                    "En första kartläggning av energifattigdomen i staden görs inom projektet",
                    "Workshop där fastighetsägare och Hyresgästföreningen bjöds in att dela "
                    "erfarenheter av hur problemen ser ut",
                    "Målet är medskick till energibolag och beslutsfattare för en mer jämlik uppvärmning",
                ],
                "notes": "Kartläggningen ska ge staden förutsättningar att fortsätta arbeta "
                "med frågan även när projektet är avslutat.",
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Rådgivningen har främst nått bostadsrättsföreningar – andra grupper kräver nya kanaler",
                    "Språk och plats spelar roll",
                    "Samverkan med fastighetsägare och hyresgäster behövs för att förstå problemen",
                    "Kunskap om utbredningen är en förutsättning för riktade insatser",
                ],
            },
            {
                "title": "Nästa steg och frågor till nätverket",
                "bullets": [
                    "Projektet avslutas i juni 2024 – därefter ska staden kunna arbeta vidare",
                    "Hur når ni hushåll som riskerar energifattigdom?",
                    "Har ni kopplat energirådgivningen till socialtjänst eller bostadsbolag?",
                ],
            },
        ],
        "sources": [
            "https://energikontorsyd.se/a/radgivning-i-rosengard-och-forskningsprojekt-kring-energifattigdom",
            "https://www.nobel21.se/post/malmos-energifattigdom-under-lupp",
            "https://energikontoretskane.se/a/energifattigdom-energieffektivisering-utifran-ett-socialt-perspektiv",
        ],
    },
    # 9 ---------------------------------------------------------------------
    {
        "slug": "region-skane-livsmedelsstrategi",
        "format": "pdf",
        "sidecar": True,
        "meta": {
            "title": "Smart mat – Skånes livsmedelsstrategi",
            "organisation": "Region Skåne",
            "organisation_type": "region",
            "county": "Skåne län",
            "themes": ["livsmedelsforsorjning", "mat", "dialog-samverkan"],
            "year": 2017,
            "summary": "Region Skåne samordnade den skånska livsmedelsstrategin Smart mat, "
            "som regionstyrelsen antog i december 2017. Strategin har fem områden för "
            "samverkan och uppmanar alla aktörer att göra egna handlingsplaner.",
            "source_url": "https://utveckling.skane.se/utvecklingsomraden/miljo-och-klimat/"
            "livsmedel-och-jordbruk/skansk-livsmedelsstrategi/",
        },
        "title_slide": {
            "title": "Smart mat – Skånes livsmedelsstrategi",
            "subtitle": "Samverkan för ett hållbart och robust livsmedelssystem",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "En stor del av Sveriges mat och livsmedelsindustri finns i Skåne",
                    "Livsmedelssektorn är beroende av en fungerande miljö",
                    "Ett hållbart och produktivt jord- och skogsbruk är en gemensam uppgift",
                    "Region Skåne samordnade arbetet med en skånsk livsmedelsstrategi",
                ],
            },
            {
                "title": "Vad gjordes",
                "bullets": [
                    "Strategin togs fram i en rad dialogmöten med livsmedels- och utvecklingsaktörer",
                    "Den utgår från den regionala utvecklingsstrategin Det öppna Skåne 2030",
                    "Regionstyrelsen antog strategin Smart mat i december 2017",
                    "Syfte: skapa goda förutsättningar för produktion och konsumtion av "
                    "hållbar och hälsosam mat",
                ],
            },
            {
                "title": "Fem områden för samverkan",
                "bullets": [
                    "Regler och villkor",
                    "Ett cirkulärt och biobaserat livsmedelssystem",
                    "Mat för livskvalitet och hälsa",
                    "Digitaliserad konsumentmarknad och livsmedelsproduktion",
                    "Ny kunskap, innovation och entreprenörskap",
                ],
            },
            {
                "title": "Resultat och fortsättning",
                "bullets": [
                    "Dialogerna gav en tydlig bild av behovet av att agera tillsammans",
                    "Alla aktörer i livsmedelssystemet uppmanas att göra egna handlingsplaner",
                    "Från hösten 2020: arbetet Skånsk livsmedelskompetens om utbildning för "
                    "branschens framtida behov",
                    "2023 bjöd Region Skåne in till kunskapsträffar om ett cirkulärt "
                    "livsmedelssystem – den första handlade om försörjningsförmåga och "
                    "livsmedelsberedskap",
                ],
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "En regional strategi blir verklig först när många aktörer gör den till sin",
                    "Hela värdekedjan behöver mötas – från jord till konsument",
                    "Frågan om beredskap och försörjningsförmåga har vuxit i betydelse",
                    "Kompetensförsörjning är en del av omställningen av livsmedelssystemet",
                ],
            },
            {
                "title": "Frågor till nätverket",
                "bullets": [
                    "Har er kommun en egen handlingsplan för livsmedel och måltider?",
                    "Hur kopplar ni offentliga måltider till lokal produktion och beredskap?",
                    "Vilken roll kan regionen spela för kommunernas arbete?",
                ],
            },
        ],
        "sources": [
            "https://utveckling.skane.se/utvecklingsomraden/miljo-och-klimat/livsmedel-och-jordbruk/skansk-livsmedelsstrategi/",
            "https://utveckling.skane.se/regional-utveckling/verksamhetsomraden/miljo-och-klimat/livsmedel-och-jordbruk/",
            "https://utveckling.skane.se/kalender/regional-utveckling/2023/kunskapstraffar-cirkulart-och-hallbart-livsmedelssystem/",
        ],
    },
    # 10 --------------------------------------------------------------------
    {
        "slug": "region-skane-fossilfri-kollektivtrafik",
        "format": "pdf",
        "sidecar": True,
        "meta": {
            "title": "Fossilbränslefri kollektivtrafik och fordonsflotta i Region Skåne",
            "organisation": "Region Skåne",
            "organisation_type": "region",
            "county": "Skåne län",
            "themes": ["kollektivtrafik", "fossilfria-fordon", "fjarrvarme-biogas"],
            "year": 2018,
            "summary": "Sedan december 2018 går Skånetrafikens bussar på enbart förnybara "
            "bränslen och tågen har gått på förnybar el sedan 2009. Utmaningen 100 procent "
            "fossilbränslefritt Skåne 2020 samlade över 300 undertecknare.",
            "source_url": "https://www.skane.se/organisation-politik/Miljo-och-natur/"
            "Fossilbranslefritt-Skane/",
        },
        "title_slide": {
            "title": "Fossilbränslefri kollektivtrafik i Skåne",
            "subtitle": "Region Skåne om bussar, tåg, biogas och den egna fordonsflottan",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Region Skåne, Länsstyrelsen och kommunerna startade Klimatsamverkan Skåne",
                    "2010–2020 drevs utmaningen 100 procent fossilbränslefritt Skåne 2020",
                    "Målet gällde el, värme och transporter",
                    "Skåne har goda förutsättningar för att framställa biogas",
                ],
            },
            {
                "title": "Vad gjordes",
                "bullets": [
                    "Tågtrafiken i Skåne gick över till förnybar el redan 2009",
                    "Bussarna ställdes om till biogas, förnybar el och biodiesel",
                    "Region Skåne leder Skånes färdplan för biogas, undertecknad av över 50 aktörer",
                    "En långsiktig plan för att byta ut regionens egna fordon togs fram när "
                    "beslutet om ett fossilfritt Skåne fattades",
                ],
            },
            {
                "title": "Resultat",
                "bullets": [
                    "Från december 2018 går Skånetrafikens cirka 1 000 bussar på enbart förnybara bränslen",
                    "Därmed är all allmän kollektivtrafik i Skåne fossilbränslefri",
                    "Över 300 företag, organisationer, föreningar och privatpersoner skrev under "
                    "utmaningen",
                    "2021: 99,8 procent av regionens personbilar och 85 procent av de lätta "
                    "lastbilarna var fossiloberoende",
                ],
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Ett tydligt och tidsatt mål ger riktning för upphandlingar",
                    "Som stor kund kan regionen skapa efterfrågan på biogas",
                    "Uppföljning av drivmedel behövs – det räcker inte att köpa rätt fordon",
                    "En bred utmaning får fler aktörer att ta egna steg",
                ],
            },
            {
                "title": "Nästa steg",
                "bullets": [
                    "Klimat- och energistrategin för Skåne siktar på ett fossilbränslefritt Skåne till 2030",
                    "Strategin är framtagen av Länsstyrelsen, Region Skåne och Skånes Kommuner",
                    "Den pekar ut prioriterade åtgärder och ansvariga aktörer",
                    "Fråga till nätverket: hur ställer ni krav på drivmedel i era egna upphandlingar?",
                ],
            },
        ],
        "sources": [
            "https://www.skane.se/organisation-politik/Miljo-och-natur/Fossilbranslefritt-Skane/",
            "https://www.skane.se/organisation-politik/Nyheter/Halsa-och-vard/2021/region-skane-bast-pa-miljofordon/",
            "http://upphandling24.idg.se/2.1062/1.235548/fossilfritt-i-region-skane-ar-2020",
        ],
    },
    # 11 --------------------------------------------------------------------
    {
        "slug": "vaxjo-fossilfri-fjarrvarme",
        "format": "pdf",
        "sidecar": True,
        "meta": {
            "title": "Fossilfri fjärrvärme, fjärrkyla och el i Växjö",
            "organisation": "Växjö kommun",
            "organisation_type": "kommun",
            "county": "Kronobergs län",
            "themes": ["fjarrvarme-biogas", "fornybar-energi"],
            "year": 2019,
            "summary": "I december 2019 eldades den sista torven i Sandviksverket. Sedan "
            "dess produceras all fjärrvärme, fjärrkyla och el hos kommunens energibolag "
            "med förnybart bränsle från skogen.",
            "source_url": "https://www.veab.se/om-oss/vara-hallbarhetsfragor/fossilfri-verksamhet/",
        },
        "title_slide": {
            "title": "Fossilfri fjärrvärme i Växjö",
            "subtitle": "Växjö kommun och Växjö Energi – en lång resa från olja till skogsrester",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Växjö kommun har som mål att bli en fossilbränslefri kommun senast 2030",
                    "Förnybar fjärrvärme och fjärrkyla är avgörande för att nå dit",
                    "Kommunens energibolag satte målet att den egna verksamheten skulle vara "
                    "fossilfri 2020",
                ],
            },
            {
                "title": "Resan i korthet",
                "bullets": [
                    "1970-talet: fjärrvärmen byggs ut, Sandviksverket invigs 1974",
                    "1980-talet: värme och el från skogsrester – en oljepanna byggs om till biobränsle",
                    "1996 och framåt: närvärme utan fossila bränslen i Ingelstad, Rottne och Braås",
                    "1997: kraftvärmeverket Sandvik 2 med mer än 95 procent biobränsle",
                    "2015: Sandvik 3 invigs, helt utan fossila bränslen",
                ],
            },
            {
                "title": "Vad gjordes på slutet",
                "bullets": [
                    "Torven, som bara var en liten del av bränslet, fasades ut",
                    "Startoljan ersattes med biobaserad olja",
                    "Den egna fordonsparken gjordes fossilbränslefri, från servicebilar till lövblåsar",
                    "Entreprenörer som arbetar åt bolaget använder fossilbränslefria maskiner",
                ],
            },
            {
                "title": "Resultat",
                "bullets": [
                    "Den 19 december 2019 eldades den sista torven i Sandviksverket",
                    "All fjärrvärme, fjärrkyla och el produceras nu med förnybart bränsle",
                    "Bränslet är grenar, toppar och rester från skogen och trävaruindustrin",
                    "Nära 8 000 villor och 1 500 företag är anslutna till fjärrvärmen",
                ],
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Omställningen tog decennier – tidiga beslut om biobränsle lade grunden",
                    "De sista procenten kräver egen planering: startolja, reservpannor och fordon",
                    "Ställ krav på entreprenörer, inte bara på den egna driften",
                    "Nästa steg ligger längre ut i leverantörskedjan",
                ],
            },
            {
                "title": "Nästa steg och frågor till nätverket",
                "bullets": [
                    "Bolaget har inlett samverkan med leverantörer för en fossilbränslefri "
                    "försörjningskedja",
                    "Hur arbetar era energibolag med de sista fossila bränslena?",
                    "Hur ställer ni krav på arbetsmaskiner i upphandlingar?",
                ],
            },
        ],
        "sources": [
            "https://www.veab.se/om-oss/vara-hallbarhetsfragor/fossilfri-verksamhet/",
            "https://klimatkommunerna.se/vaxjo-fossil-fuel-free-district-heating-cooling-and-electricity/",
            "https://bioenergitidningen.se/vaxjo-energi-ar-landets-forsta-fossilfria-energi-och-kommunikationsforetag/",
        ],
    },
    # 12 --------------------------------------------------------------------
    {
        "slug": "uppsala-klimatprotokollet",
        "format": "pdf",
        "sidecar": True,
        "meta": {
            "title": "Uppsala klimatprotokoll – ett lokalt klimatavtal",
            "organisation": "Uppsala kommun",
            "organisation_type": "kommun",
            "county": "Uppsala län",
            "themes": ["dialog-samverkan", "styrning"],
            "year": 2010,
            "summary": "Sedan 2010 samlar Uppsala kommun företag, offentliga verksamheter, "
            "akademi och föreningar i Uppsala klimatprotokoll. Medlemmarna skriver under "
            "ett klimatavtal med ett gemensamt mål baserat på koldioxidbudget.",
            "source_url": "https://skr.se/skr/tjanster/larandeexempel/allalarandeexempel/"
            "uppsalaklimatprotokollettlokaltklimatavtalmellanoffentligaochprivataaktorer.68247.html",
        },
        "title_slide": {
            "title": "Uppsala klimatprotokoll",
            "subtitle": "Ett lokalt klimatavtal mellan offentliga och privata aktörer",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Ingen kommun, inget företag och ingen högskola klarar omställningen ensam",
                    "Uppsala har två universitet, industri, kunskapsintensiva näringar och "
                    "stora bygg- och infrastruktursatsningar",
                    "2010 bjöd kommunen in lokala aktörer från olika branscher att ta sig an "
                    "klimatfrågan tillsammans",
                ],
            },
            {
                "title": "Så fungerar det",
                "bullets": [
                    "Medlemmarna skriver under ett klimatavtal som förnyas vart tredje år",
                    "Gemensamt mål: utsläppen ska minska med 17 procent per år till och med 2030",
                    "Målet bygger på en koldioxidbudget och justeras varje år efter föregående års utfall",
                    "Medlemmarna rapporterar varje år sin energianvändning och sina utsläpp",
                    "En processledning från Uppsala kommun håller ihop arbetet",
                ],
            },
            {
                "title": "Arbetet i praktiken",
                "bullets": [
                    "Fokusgrupper utifrån medlemmarnas behov, till exempel:",
                    (1, "val av byggmaterial"),
                    (1, "energi"),
                    (1, "minskad plast"),
                    (1, "hållbara godstransporter"),
                    "Ledningsrepresentanter möts vid rundabordsmöten två gånger per år",
                ],
            },
            {
                "title": "Resultat",
                "bullets": [
                    "Nätverket har i dag ett 40-tal medlemmar med omkring 38 000 anställda",
                    "De gemensamma utsläppen har minskat kontinuerligt sedan starten",
                    "Perioden 2018–2021: 26 procent lägre utsläpp 2020 jämfört med 2017",
                ],
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Ett skriftligt avtal gör åtagandet tydligt för alla parter",
                    "Ett mål kopplat till koldioxidbudget håller ambitionen i linje med Parisavtalet",
                    "Gemensam uppföljning gör det möjligt att se resultat",
                    "Kommunen behöver avsätta resurser för att leda nätverket",
                ],
            },
            {
                "title": "Frågor till nätverket",
                "bullets": [
                    "Har ni ett liknande nätverk med näringslivet i er kommun?",
                    "Hur följer ni upp åtaganden från andra aktörer än kommunen?",
                    "Hur håller ni engagemanget uppe mellan avtalsperioderna?",
                ],
            },
        ],
        "sources": [
            "https://skr.se/skr/tjanster/larandeexempel/allalarandeexempel/uppsalaklimatprotokollettlokaltklimatavtalmellanoffentligaochprivataaktorer.68247.html",
            "https://klimatprotokollet.uppsala.se/om-klimatprotokollet/in-english/",
            "https://klimatprotokollet.uppsala.se/om-klimatprotokollet/",
        ],
    },
    # 13 --------------------------------------------------------------------
    # No sidecar on purpose.
    {
        "slug": "orebro-styrmodell-agenda-2030",
        "format": "pdf",
        "sidecar": False,
        "meta": {
            "title": "Örebro kommuns nya styrmodell – Agenda 2030 i planering och budget",
            "organisation": "Örebro kommun",
            "organisation_type": "kommun",
            "county": "Örebro län",
            "themes": ["styrning"],
            "summary": "",
            "source_url": "https://klimatkommunerna.se/orebro-april-2019/",
        },
        "title_slide": {
            "title": "Örebro kommuns nya styrmodell – Agenda 2030 i planering och budget",
            "subtitle": "Örebro kommun · Klimatkommunernas årsmöte i Örebro, april 2019",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Örebro har fått många priser för sitt hållbarhetsarbete",
                    "Ändå finns många områden där kommunen inte når målen i Agenda 2030",
                    "Bilden vi använder: vi behöver ett mål, en kapabel besättning och en karta",
                    "Styrmodellen är kartan",
                ],
            },
            {
                "title": "Vad styrmodellen ska göra",
                "bullets": [
                    "Se till att planering och styrning utgår från Agenda 2030",
                    "Se till att styrningen leder till de effekter invånarna behöver",
                    "Göra den politiska viljan till verkliga effekter",
                    "Fungera som ett kretslopp: planera, gör, studera, agera",
                ],
            },
            {
                "title": "Hur det går till",
                "bullets": [
                    "Före budgeten gör varje nämnd och bolag en nulägesanalys:",
                    (1, "ekonomi, verksamhet och hållbarhet"),
                    "Hållbarhetsstrateger stöttar i analysen",
                    "Analyserna blir underlag när politiken beslutar om gemensamma mål",
                    "När budgeten är klar bryter nämnder och förvaltningar ner den i handlingsplaner",
                ],
            },
            {
                "title": "Förändringen",
                "bullets": [
                    "Mindre detaljstyrning av verksamheterna",
                    "Mer stöd till verksamheterna",
                    "Kommunikation åt båda håll – även om det som inte blev som vi tänkt",
                    "Uppföljning som leder till justeringar",
                ],
            },
            {
                "title": "Lärdomar",
                "bullets": [
                    "Hållbarhet måste in i budgetprocessen, inte ligga vid sidan av",
                    "Ett ordentligt förarbete ger bättre beslut",
                    "Styrning handlar lika mycket om arbetssätt som om dokument",
                    "Priser och utmärkelser betyder inte att målen är nådda",
                ],
            },
            {
                "title": "Frågor till nätverket",
                "bullets": [
                    "Hur har ni fått in klimatmålen i budget och styrkort?",
                    "Vem stöttar nämnderna i deras hållbarhetsanalyser hos er?",
                    "Hur följer ni upp att handlingsplanerna ger effekt?",
                ],
            },
        ],
        "sources": [
            "https://klimatkommunerna.se/orebro-april-2019/",
        ],
    },
    # 14 --------------------------------------------------------------------
    # No sidecar on purpose.
    {
        "slug": "linkoping-klimatsmart-skolmat",
        "format": "pdf",
        "sidecar": False,
        "meta": {
            "title": "Klimatsmart skolmat i Linköping",
            "organisation": "Linköpings kommun",
            "organisation_type": "kommun",
            "county": "Östergötlands län",
            "themes": ["mat", "livsmedelsforsorjning"],
            "summary": "",
            "source_url": "https://www.linkoping.se/klimatsmart-linkoping/"
            "Klimatsmarta-satsningar-i-linkoping/klimatsmart-skolmat-skapar-stolthet/",
        },
        "title_slide": {
            "title": "Klimatsmart skolmat i Linköping",
            "subtitle": "Linköpings kommun · Kost och restaurang",
        },
        "slides": [
            {
                "title": "Bakgrund",
                "bullets": [
                    "Hur och var maten produceras påverkar klimat och miljö",
                    "Linköping har en vision om att bli koldioxidneutralt",
                    "Kommunens kost- och måltidspolicy: säsongsanpassat, ekologiskt och "
                    "etiskt producerat",
                ],
            },
            {
                "title": "Verksamheten",
                "bullets": [
                    "Kost och restaurang lagar maten till alla kommunala skolor",
                    "Dessutom till en stor del av förskolorna och till äldreomsorg",
                    "Cirka 25 000 portioner om dagen till 72 skolrestauranger och restauranger på servicehus",
                    "Ungefär hälften har tillagningskök, hälften mottagningskök",
                ],
            },
            {
                "title": "Vad vi gör",
                "bullets": [
                    "Vi väljer ekologiskt och närproducerat",
                    "Matsvinnet mäts i varje kök",
                    "En del skolor visar eleverna hur mycket som slängs varje dag",
                ],
            },
            {
                "title": "Resultat",
                "bullets": [
                    "En tredjedel av skolmaten är ekologisk",
                    "35 procent är närproducerad",
                    "Att mäta svinnet får personalen att reflektera – och svinnet går att påverka",
                ],
            },
            {
                "title": "Lärdomar och frågor till nätverket",
                "bullets": [
                    "Det man mäter blir synligt",
                    "Elever som ser svinnet kan bidra till att minska det",
                    "Stolthet över maten är en drivkraft för personalen",
                    "Hur mäter och följer ni upp svinn och klimatpåverkan i era kök?",
                ],
            },
        ],
        "sources": [
            "https://www.linkoping.se/klimatsmart-linkoping/Klimatsmarta-satsningar-i-linkoping/klimatsmart-skolmat-skapar-stolthet/",
        ],
    },
]


# ---------------------------------------------------------------------------
# Helpers shared by both formats
# ---------------------------------------------------------------------------


def file_name(deck: dict) -> str:
    return f"{deck['slug']}.{deck['format']}"


def bullet_items(bullets: list) -> list[tuple[int, str]]:
    """Normalise bullets to (level, text)."""
    items = []
    for bullet in bullets:
        if isinstance(bullet, tuple):
            items.append((bullet[0], bullet[1]))
        else:
            items.append((0, bullet))
    return items


def sources_slide(deck: dict) -> dict:
    """The last slide: where the facts come from."""
    bullets = ["Fakta i presentationen kommer från:"]
    bullets += [(1, url) for url in deck["sources"]]
    return {"title": "Källor", "bullets": bullets}


def all_slides(deck: dict) -> list[dict]:
    return deck["slides"] + [sources_slide(deck)]


def footer_text(deck: dict) -> str:
    return f"{deck['meta']['organisation']} · Erfarenhetsutbyte i Klimatkommunerna"


# ---------------------------------------------------------------------------
# PPTX
# ---------------------------------------------------------------------------

SLIDE_W = Inches(13.333)
SLIDE_H = Inches(7.5)


def _rgb(color: tuple[int, int, int]) -> RGBColor:
    return RGBColor(*color)


def _add_band(slide, top, height, color) -> None:
    band = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, top, SLIDE_W, height)
    band.fill.solid()
    band.fill.fore_color.rgb = _rgb(color)
    band.line.fill.background()
    band.shadow.inherit = False


def _add_footer(slide, text: str, number: int, total: int) -> None:
    box = slide.shapes.add_textbox(Inches(0.6), Inches(6.95), Inches(12.1), Inches(0.4))
    frame = box.text_frame
    frame.word_wrap = True
    para = frame.paragraphs[0]
    para.text = f"{text}    {number}/{total}"
    para.runs[0].font.size = Pt(11)
    para.runs[0].font.color.rgb = _rgb(TEXT_MUTED)


def _style_title(shape, size: int, color) -> None:
    for para in shape.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(size)
            run.font.bold = True
            run.font.color.rgb = _rgb(color)


def _place(shape, left, top, width, height) -> None:
    shape.left, shape.top, shape.width, shape.height = left, top, width, height


def build_pptx(deck: dict) -> bytes:
    prs = Presentation()
    prs.slide_width = SLIDE_W
    prs.slide_height = SLIDE_H
    slides = all_slides(deck)
    total = len(slides) + 1

    # Title slide (layout 0 keeps real title/subtitle placeholders for extractors).
    title_slide = prs.slides.add_slide(prs.slide_layouts[0])
    _add_band(title_slide, 0, SLIDE_H, ACCENT_LIGHT)
    _add_band(title_slide, Inches(5.2), Inches(0.12), ACCENT)
    title_ph = title_slide.shapes.title
    _place(title_ph, Inches(0.8), Inches(1.6), Inches(11.7), Inches(2.2))
    title_ph.text = deck["title_slide"]["title"]
    _style_title(title_ph, 40, ACCENT)
    subtitle_ph = title_slide.placeholders[1]
    _place(subtitle_ph, Inches(0.8), Inches(3.8), Inches(11.7), Inches(1.2))
    subtitle_ph.text = deck["title_slide"]["subtitle"]
    for para in subtitle_ph.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(22)
            run.font.color.rgb = _rgb(TEXT_DARK)
    org_box = title_slide.shapes.add_textbox(Inches(0.8), Inches(5.5), Inches(11.7), Inches(0.8))
    org_para = org_box.text_frame.paragraphs[0]
    org_para.text = deck["meta"]["organisation"]
    org_para.runs[0].font.size = Pt(20)
    org_para.runs[0].font.bold = True
    org_para.runs[0].font.color.rgb = _rgb(TEXT_DARK)
    title_notes = deck["title_slide"].get("notes") or (
        f"Presentation från {deck['meta']['organisation']}: "
        f"{deck['title_slide']['title']}. {deck['title_slide']['subtitle']}."
    )
    title_slide.notes_slide.notes_text_frame.text = title_notes

    # Content slides (layout 1: title and content).
    for number, spec in enumerate(slides, start=2):
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        _add_band(slide, 0, Inches(1.25), ACCENT)
        title_ph = slide.shapes.title
        _place(title_ph, Inches(0.6), Inches(0.15), Inches(12.1), Inches(0.95))
        title_ph.text = spec["title"]
        _style_title(title_ph, 30, (255, 255, 255))
        body = slide.placeholders[1]
        _place(body, Inches(0.8), Inches(1.55), Inches(11.7), Inches(5.2))
        frame = body.text_frame
        frame.word_wrap = True
        items = bullet_items(spec["bullets"])
        for index, (level, text) in enumerate(items):
            para = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
            para.text = text
            para.level = level
            for run in para.runs:
                run.font.size = Pt(22 if level == 0 else 18)
                run.font.color.rgb = _rgb(TEXT_DARK)
        _add_footer(slide, footer_text(deck), number, total)
        if spec.get("notes"):
            slide.notes_slide.notes_text_frame.text = spec["notes"]

    props = prs.core_properties
    props.title = deck["meta"]["title"]
    props.author = deck["meta"]["organisation"]
    props.last_modified_by = deck["meta"]["organisation"]
    props.subject = "Erfarenhetsutbyte i Klimatkommunerna"
    props.keywords = ", ".join(deck["meta"]["themes"])
    props.language = "sv-SE"
    props.category = "presentation"
    props.comments = ""
    props.revision = 1
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.last_printed = FIXED_DATETIME

    buffer = io.BytesIO()
    prs.save(buffer)
    return normalise_zip(buffer.getvalue())


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed member timestamps so the bytes are reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(
        out, "w", compression=zipfile.ZIP_DEFLATED
    ) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# ---------------------------------------------------------------------------
# PDF (one slide per landscape page)
# ---------------------------------------------------------------------------

PAGE_W = 297.0
PAGE_H = 167.0  # 16:9-ish landscape


class SlidePDF(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="L", unit="mm", format=(PAGE_H, PAGE_W))
        self.set_auto_page_break(False)
        self.set_margins(16, 12, 16)
        self.add_font("DejaVu", "", str(FONT_REGULAR))
        self.add_font("DejaVu", "B", str(FONT_BOLD))


def _pdf_footer(pdf: SlidePDF, text: str, number: int, total: int) -> None:
    pdf.set_font("DejaVu", "", 9)
    pdf.set_text_color(*TEXT_MUTED)
    pdf.set_xy(16, PAGE_H - 10)
    pdf.cell(PAGE_W - 32, 5, f"{text}    {number}/{total}")


def build_pdf(deck: dict) -> bytes:
    pdf = SlidePDF()
    meta = deck["meta"]
    pdf.set_title(meta["title"])
    pdf.set_author(meta["organisation"])
    pdf.set_subject("Erfarenhetsutbyte i Klimatkommunerna")
    pdf.set_keywords(", ".join(meta["themes"]))
    pdf.set_creator("kunskap tools/build_presentations.py")
    pdf.set_lang("sv-SE")
    pdf.set_creation_date(FIXED_DATETIME_UTC)

    slides = all_slides(deck)
    total = len(slides) + 1

    # Title page.
    pdf.add_page()
    pdf.set_fill_color(*ACCENT_LIGHT)
    pdf.rect(0, 0, PAGE_W, PAGE_H, style="F")
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 112, PAGE_W, 2.5, style="F")
    pdf.set_xy(20, 38)
    pdf.set_font("DejaVu", "B", 30)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(PAGE_W - 40, 13, deck["title_slide"]["title"])
    pdf.set_x(20)
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 16)
    pdf.set_text_color(*TEXT_DARK)
    pdf.set_x(20)
    pdf.multi_cell(PAGE_W - 40, 8, deck["title_slide"]["subtitle"])
    pdf.set_xy(20, 120)
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(PAGE_W - 40, 8, meta["organisation"])

    # Content pages.
    for number, spec in enumerate(slides, start=2):
        pdf.add_page()
        pdf.set_fill_color(*ACCENT)
        pdf.rect(0, 0, PAGE_W, 26, style="F")
        pdf.set_xy(16, 7)
        pdf.set_font("DejaVu", "B", 22)
        pdf.set_text_color(255, 255, 255)
        pdf.cell(PAGE_W - 32, 12, spec["title"])
        pdf.set_text_color(*TEXT_DARK)
        y = 36.0
        for level, text in bullet_items(spec["bullets"]):
            indent = 22 if level == 0 else 34
            size = 15 if level == 0 else 13
            line_h = 7.2 if level == 0 else 6.4
            marker = "•" if level == 0 else "–"
            pdf.set_font("DejaVu", "", size)
            pdf.set_xy(indent - 6, y)
            pdf.cell(6, line_h, marker)
            pdf.set_xy(indent, y)
            pdf.multi_cell(PAGE_W - indent - 18, line_h, text, align="L")
            y = pdf.get_y() + (2.6 if level == 0 else 1.4)
        _pdf_footer(pdf, footer_text(deck), number, total)

    return bytes(pdf.output())


# ---------------------------------------------------------------------------
# Sidecars
# ---------------------------------------------------------------------------


def sidecar_text(deck: dict) -> str:
    """YAML with the same keys as the Markdown front matter.

    Strings are written as JSON strings, which are valid double-quoted YAML
    scalars, so å/ä/ö and colons need no special care.
    """
    meta = dict(deck["meta"])
    meta["id"] = deck.get("id", deck["slug"])
    meta["kind"] = "presentation"
    meta["language"] = "sv"
    lines = []
    for key in SIDECAR_KEYS:
        if key not in meta:
            continue
        value = meta[key]
        if key == "themes":
            lines.append(f"themes: [{', '.join(value)}]")
        elif isinstance(value, int):
            lines.append(f"{key}: {value}")
        elif key in ("id", "kind", "language", "organisation_type"):
            lines.append(f"{key}: {value}")
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Build and verify
# ---------------------------------------------------------------------------


def check_decks() -> None:
    """Cheap consistency checks on the data before anything is written."""
    slugs = [deck["slug"] for deck in DECKS]
    assert len(slugs) == len(set(slugs)), "duplicate slugs"
    for deck in DECKS:
        n_pages = len(all_slides(deck)) + 1
        assert 6 <= n_pages <= 10, f"{deck['slug']}: {n_pages} slides"
        assert deck["slug"].isascii(), deck["slug"]
        if deck["sidecar"]:
            assert deck["meta"]["summary"], f"{deck['slug']}: summary missing"
            assert deck["meta"]["source_url"] in deck["sources"], deck["slug"]
        else:
            assert deck["meta"]["source_url"] in deck["sources"], deck["slug"]
        if deck["format"] == "pptx":
            with_notes = 1 + sum(1 for s in deck["slides"] if s.get("notes"))
            assert with_notes * 2 >= n_pages, f"{deck['slug']}: too few notes"


def build() -> list[Path]:
    check_decks()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for deck in DECKS:
        path = OUT_DIR / file_name(deck)
        data = build_pptx(deck) if deck["format"] == "pptx" else build_pdf(deck)
        path.write_bytes(data)
        written.append(path)
        sidecar = OUT_DIR / (file_name(deck) + ".yml")
        if deck["sidecar"]:
            sidecar.write_text(sidecar_text(deck), encoding="utf-8")
            written.append(sidecar)
    return written


def extract_pptx(path: Path) -> list[tuple[str, str]]:
    """(slide text, notes text) per slide."""
    prs = Presentation(str(path))
    pages = []
    for slide in prs.slides:
        texts = [
            shape.text_frame.text
            for shape in slide.shapes
            if shape.has_text_frame and shape.text_frame.text.strip()
        ]
        notes = ""
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text
        pages.append(("\n".join(texts), notes))
    return pages


def extract_pdf(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def verify() -> bool:
    import yaml

    ok = True
    rows = []
    for deck in DECKS:
        path = OUT_DIR / file_name(deck)
        expected = [deck["title_slide"]["title"]] + [s["title"] for s in all_slides(deck)]
        if deck["format"] == "pptx":
            pages = extract_pptx(path)
            texts = [t for t, _ in pages]
            notes = sum(1 for _, n in pages if n.strip())
            all_text = "\n".join(t + "\n" + n for t, n in pages)
            title_meta = Presentation(str(path)).core_properties.title
        else:
            texts = extract_pdf(path)
            notes = 0
            all_text = "\n".join(texts)
            from pypdf import PdfReader

            title_meta = (PdfReader(str(path)).metadata or {}).get("/Title", "")
        titles_found = all(
            " ".join(title.split()) in " ".join(text.split())
            for title, text in zip(expected, texts)
        )
        chars = "".join(c for c in "åäöÅÄÖ" if c in all_text)
        has_swedish = all(c in all_text for c in "åäö")
        source_last = deck["sources"][0] in "".join(texts[-1].split()) or deck["sources"][0] in texts[-1]
        sidecar_path = OUT_DIR / (file_name(deck) + ".yml")
        sidecar_state = "-"
        if sidecar_path.exists():
            data = yaml.safe_load(sidecar_path.read_text(encoding="utf-8"))
            missing = [k for k in SIDECAR_KEYS if k != "year" and k not in data]
            sidecar_state = "ok" if not missing and data["kind"] == "presentation" else f"missing {missing}"
        row_ok = (
            titles_found
            and has_swedish
            and source_last
            and len(texts) == len(expected)
            and title_meta == deck["meta"]["title"]
            and (deck["sidecar"] == sidecar_path.exists())
            and sidecar_state in ("ok", "-")
        )
        ok = ok and row_ok
        rows.append(
            (
                file_name(deck),
                str(len(texts)),
                str(notes) if deck["format"] == "pptx" else "n/a",
                chars,
                "ja" if titles_found else "NEJ",
                "ja" if source_last else "NEJ",
                sidecar_state,
                "OK" if row_ok else "FEL",
            )
        )
    header = ("fil", "bilder", "anteckn.", "åäö", "rubriker", "källa sist", "sidecar", "status")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    print()
    print("alla kontroller godkända" if ok else "NÅGON KONTROLL MISSLYCKADES")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-verify", action="store_true", help="only build")
    parser.add_argument("--verify-only", action="store_true", help="only verify")
    args = parser.parse_args(argv)
    if not args.verify_only:
        written = build()
        print(f"skrev {len(written)} filer i {OUT_DIR.relative_to(ROOT)}")
    if args.no_verify:
        return 0
    return 0 if verify() else 1


if __name__ == "__main__":
    sys.exit(main())
